"""What the forkserver of :mod:`tests.forked` does once, before it forks a process per command.

It fills the caches that the first command in a process fills and that later commands reuse:
matplotlib's fonts, Hydra's plugin registry, and the parsers behind config composition. Each
forked command then costs what a second command in one process costs (about 0.3 s of CPU rather
than 0.6–1.0 s). Only imports and caches are kept: Hydra's global state is cleared, and nothing is
written anywhere but to memory.
"""

from __future__ import annotations

import gc
import io


def warm() -> None:
    """Draw a small chart, discover Hydra's plugins and compose the project's config once."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.plugins import Plugins
    from hydra.plugins.launcher import Launcher
    from hydra.plugins.sweeper import Sweeper
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from harness.paths import CONF_DIR

    figure = Figure(figsize=(2, 2))
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    axes.scatter([1, 2], [2, 1])
    axes.set_title("a title")
    axes.set_xlabel("$ a label")
    figure.savefig(io.BytesIO(), format="png")

    plugins = Plugins.instance()
    plugins.discover(Launcher)
    plugins.discover(Sweeper)
    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        compose(config_name="config", overrides=["predictor=constant"])
    GlobalHydra.instance().clear()
    # What is here now lives as long as the server: keep it out of every forked process's
    # garbage collections, which would otherwise walk (and copy) all of it.
    gc.collect()
    gc.freeze()


warm()
