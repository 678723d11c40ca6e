"""``pricebench-finetune``: prepare → upload → create → follow a GPT-4o-mini fine-tuning job.

``stage=prepare|upload|create|follow|all`` (default ``all``). Each stage records what it did in
``<output_dir>/state.json`` and the next one resumes from there, so a rerun skips what is done.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

from finetune import jobs
from harness import registry, results, schema
from harness.data import EDITION_SIZES, load_dataset
from harness.errors import PricebenchError, first_line
from harness.paths import CONF_DIR

STAGES = ("prepare", "upload", "create", "follow")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _plain(node: DictConfig) -> dict[str, Any]:
    """A config section as a plain dict, for passing on to code that knows nothing of OmegaConf."""
    container = OmegaConf.to_container(node, resolve=True)
    assert isinstance(container, dict)
    return {str(key): value for key, value in container.items()}


def _read_state(path: Path) -> dict[str, Any]:
    """``state.json`` as written by a stage; refused in one line when it is not."""
    if not path.exists():
        return {}
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PricebenchError(
            f"{path} cannot be read ({first_line(exc)}): fix it, or delete it and rerun "
            "stage=prepare (a job it names can still be followed with job_id=...)"
        ) from None
    if not isinstance(state, dict):
        raise PricebenchError(
            f"{path} holds {type(state).__name__}, not an object: delete it and rerun stage=prepare"
        )
    return state


class Workflow:
    def __init__(self, cfg: DictConfig) -> None:
        self.cfg = cfg
        self.out = Path(cfg.output_dir)
        self.state_path = self.out / "state.json"
        self.state: dict[str, Any] = _read_state(self.state_path)
        self._client: Any = None

    @property
    def base_url(self) -> str | None:
        return resolve_base_url(self.cfg)

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = jobs.client_for(self.base_url, self.cfg.api_key_env)
        return self._client

    def save(self, **changes: Any) -> None:
        self.state.update(changes)
        results.write_json(self.state_path, self.state)

    def settings(self) -> dict[str, Any]:
        wandb = self.cfg.wandb
        return {
            "model": self.cfg.model, "seed": self.cfg.seed, "suffix": self.cfg.suffix,
            "n_epochs": self.cfg.n_epochs,
            "wandb_project": wandb.project if wandb.integration else None,
            "wandb_entity": wandb.entity,
        }  # fmt: skip

    def prepare(self) -> None:
        from finetune.data import prepare
        from predictors.prompts import PREFILL

        data = _plain(self.cfg.data)
        # the leakage check covers the edition's whole fixed test set (250 items in 2024, 200 in
        # 2025), also when data.size asks for fewer
        fixed = EDITION_SIZES.get(str(data.get("edition") or "2024"))
        size = data.get("size")
        if fixed and isinstance(size, int) and not isinstance(size, bool) and 0 < size < fixed:
            data["size"] = fixed
        dataset = load_dataset(**data, drop_test_overlap=False)
        prompt = self.cfg.prompt
        reports = prepare(
            dataset.train, dataset.test, self.out, self.cfg.train_size, self.cfg.validation_size,
            prompt.system_prompt, prompt.user_template, list(prompt.remove),
            prefill=prompt.get("prefill") or PREFILL,
        )  # fmt: skip
        for report in reports:
            dupes = f", {report.duplicates} duplicate prompt(s)" if report.duplicates else ""
            print(
                f"{report.name}: {report.examples} examples, ~{report.tokens:,} tokens{dupes}"
                f" -> {report.path}"
            )
        train_tokens = reports[0].tokens * self.cfg.n_epochs
        cost = train_tokens * self.cfg.training_price / 1e6
        print(
            f"estimated training: ~{train_tokens:,} tokens over {self.cfg.n_epochs} epoch(s), "
            f"about ${cost:.2f} at ${self.cfg.training_price}/M tokens"
        )
        prepared = {
            r.name: {"path": str(r.path), "sha256": _sha256(r.path), "examples": r.examples}
            for r in reports
        }
        self.save(prepared=prepared, training_file=None, validation_file=None, job_id=None)

    def upload(self) -> None:
        prepared = self.state.get("prepared")
        if not prepared:
            raise PricebenchError(f"nothing prepared in {self.out}: run stage=prepare first")
        checked = not self.cfg.check_access
        for name, key in (("training", "training_file"), ("validation", "validation_file")):
            path = Path(prepared[name]["path"])
            if not path.is_file() or _sha256(path) != prepared[name]["sha256"]:
                raise PricebenchError(
                    f"{path} changed or vanished since it was validated: rerun stage=prepare"
                )
            if not self.state.get(key) and not checked:
                jobs.check_access(self.client, self.cfg.model, recorded_run(self.cfg))
                checked = True
            if self.state.get(key):
                print(f"{name} file already uploaded: {self.state[key]}")
                continue
            self.save(**{key: jobs.upload(self.client, path)})
            print(f"uploaded {name} file {path.name}: {self.state[key]}")

    def create(self) -> None:
        if self.state.get("job_id"):
            print(f"job already created: {self.state['job_id']} (a new output_dir starts another)")
            return
        if not self.state.get("training_file"):
            raise PricebenchError("no uploaded training file: run stage=upload first")
        settings = self.settings()
        job = jobs.create_job(
            self.client, settings, self.state["training_file"],
            self.state.get("validation_file"), recorded_run(self.cfg),
        )  # fmt: skip
        self.save(job_id=job.id)
        registry.record_job(self.cfg.registry, {
            "job_id": job.id, "suffix": self.cfg.suffix, "base_model": self.cfg.model,
            "model": None, "status": job.status, "base_url": self.base_url,
            "training_file": self.state["training_file"],
            "validation_file": self.state.get("validation_file"),
            "settings": settings, "output_dir": str(self.out),
        })  # fmt: skip
        print(f"created fine-tuning job {job.id} ({job.status})")

    def job_id(self) -> str:
        if self.cfg.job_id:
            return str(self.cfg.job_id)
        if self.state.get("job_id"):
            return str(self.state["job_id"])
        return str(registry.find_job(self.cfg.registry, self.cfg.suffix)["job_id"])

    def follow(self) -> None:
        job_id = self.job_id()
        print(f"following {job_id} (Ctrl-C stops following; the job keeps running)")
        try:
            job, metrics = jobs.follow(self.client, job_id, self.cfg.poll_seconds)
        except KeyboardInterrupt:
            print(
                f"\nstopped following; {job_id} keeps running. Follow it again with: "
                f"pricebench-finetune stage=follow job_id={job_id}",
                file=sys.stderr,
            )
            sys.exit(130)
        registry.record_job(self.cfg.registry, {
            "job_id": job.id, "suffix": self.cfg.suffix, "base_model": job.model,
            "model": job.fine_tuned_model, "status": job.status,
            "trained_tokens": job.trained_tokens,
        })  # fmt: skip
        if self.cfg.wandb.log:
            try:
                self.log_to_wandb(job, metrics)
            except KeyboardInterrupt:
                print(
                    f"\nstopped logging {job.id} to W&B; finish it with: "
                    f"pricebench-finetune stage=follow job_id={job.id}",
                    file=sys.stderr,
                )
                sys.exit(130)
        if job.status != "succeeded":
            raise PricebenchError(f"fine-tuning job {job.id} {job.status}: {jobs.job_error(job)}")
        print(f"fine-tuned model: {job.fine_tuned_model}")
        if self.cfg.provider == "azure" and not self.cfg.base_url:
            print("deploy it in your Azure OpenAI resource, then evaluate it with: "
                  "pricebench predictor=azure predictor.model=DEPLOYMENT")  # fmt: skip
            return
        where = f" predictor.base_url={self.base_url}" if self.base_url else ""
        print(f"evaluate it with: pricebench predictor=fine_tuned predictor.job_id={job.id}{where}")

    def training_files(self, job: Any) -> list[Path]:
        """The prepared files ``job`` was trained on, when they are still here unchanged (in
        this output_dir, or the one the registry recorded when the job was created)."""
        folders = [self.out]
        record = _registry_record(self.cfg.registry, job.id)
        if record.get("output_dir"):
            folders.append(Path(record["output_dir"]))
        for folder in folders:
            state = self.state if folder == self.out else _read_state(folder / "state.json")
            if not job.training_file or state.get("training_file") != job.training_file:
                continue
            prepared = state.get("prepared") or {}
            paths = []
            for name, key in (("training", "training_file"), ("validation", "validation_file")):
                entry = prepared.get(name) or {}
                path = Path(entry.get("path") or folder / "missing")
                if state.get(key) and path.is_file() and _sha256(path) == entry.get("sha256"):
                    paths.append(path)
            if paths:
                return paths
        print(f"note: the files {job.id} was trained on are not in {self.out} as prepared; "
              "W&B gets no artifact of them")  # fmt: skip
        return []

    def log_to_wandb(self, job: Any, metrics: list[dict[str, Any]]) -> None:
        """The job in its own W&B run; a run that holds it already is resumed for what it lacks,
        and not opened at all when it lacks nothing (the registry records what it holds)."""
        settings = _plain(self.cfg.wandb)
        rows = jobs.result_rows(self.client, job)
        steps = jobs.step_rows(metrics, rows)
        run_id = jobs.wandb_run_id(job.id)
        where = {"run_id": run_id, "project": settings.get("project") or "pricebench",
                 "entity": settings.get("entity")}  # fmt: skip
        held = _registry_record(self.cfg.registry, job.id).get("wandb") or {}
        same_run = all(held.get(k) == v for k, v in where.items())
        last = steps[-1][0] if steps else -1
        if same_run and held.get("status") == job.status and held.get("step", -2) >= last:
            print(f"W&B run {run_id} already holds this job ({len(steps)} steps); nothing to log")
            return
        config = {**self.settings(), "job_id": job.id, "training_file": job.training_file,
                  "validation_file": job.validation_file, "train_size": self.cfg.train_size,
                  "validation_size": self.cfg.validation_size}  # fmt: skip
        logged = jobs.log_to_wandb(
            settings, config, job, metrics, rows,
            logged_step=held.get("step") if same_run else None,
            files=self.training_files(job),
        )  # fmt: skip
        if logged is not None:
            registry.record_job(self.cfg.registry, {
                "job_id": job.id, "wandb": {**where, "step": logged, "status": job.status},
            })  # fmt: skip


def resolve_base_url(cfg: DictConfig) -> str | None:
    """The job API's base URL: ``base_url`` when set (the openai preset's default is
    ``OPENAI_BASE_URL``); else, for a preset naming ``endpoint_env`` (azure), that variable's
    endpoint plus ``endpoint_path``; else None (the SDK's default, OpenAI)."""
    if cfg.base_url:
        return str(cfg.base_url).strip().rstrip("/")
    preset = cfg.providers[cfg.provider]
    variable = preset.get("endpoint_env")
    if not variable:
        return None
    endpoint = (os.environ.get(variable) or "").strip().rstrip("/")
    if not endpoint:
        raise PricebenchError(
            f"{variable} is not set: export {variable}=https://RESOURCE.openai.azure.com (your "
            "resource's endpoint), or set base_url=URL"
        )
    path = str(preset.get("endpoint_path") or "").rstrip("/")
    return endpoint if not path or endpoint.endswith(path) else endpoint + path


def recorded_run(cfg: DictConfig) -> str:
    """The course's recorded fine-tuned run: ``reference/gpt-4o-mini-fine-tuned.csv`` in the data
    folder (``data.path`` or ``$PRICEBENCH_DATA``) that holds it, else that path spelled out."""
    for folder in (cfg.data.get("path"), os.environ.get("PRICEBENCH_DATA")):
        if folder and (Path(str(folder)) / "reference" / jobs.RECORDED_RUN).is_file():
            return str(Path(str(folder)) / "reference" / jobs.RECORDED_RUN)
    return f"$PRICEBENCH_DATA/reference/{jobs.RECORDED_RUN}"


def _registry_record(path: str, job_id: str) -> dict[str, Any]:
    return next((r for r in registry.read_registry(path) if r.get("job_id") == job_id), {})


def _whole(cfg: DictConfig, key: str, least: int) -> None:
    value = cfg.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise PricebenchError(f"{key}={value!r}: must be a whole number of at least {least}")


def _number(
    cfg: DictConfig, key: str, above: float | None = None, least: float | None = None
) -> None:
    value = cfg.get(key)
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if ok and above is not None:
        ok = value > above
    if ok and least is not None:
        ok = value >= least
    if not ok:
        bound = f"above {above:g}" if above is not None else f"at least {least:g}"
        raise PricebenchError(f"{key}={value!r}: must be a number {bound}")


def check_config(cfg: DictConfig) -> None:
    """The settings checked before any stage runs, each failure one line naming the key."""
    stage = cfg.stage
    if stage not in (*STAGES, "all"):
        raise PricebenchError(f"stage must be one of {', '.join(STAGES)} or all, not {stage!r}")
    providers = list(cfg.get("providers") or {})
    if not isinstance(cfg.get("provider"), str) or cfg.provider not in providers:
        raise PricebenchError(
            f"provider={cfg.get('provider')!r}: must be one of {', '.join(providers)} (or keep "
            "provider=openai and set base_url=URL api_key_env=VAR for another server)"
        )
    if not isinstance(cfg.check_access, bool):
        raise PricebenchError(f"check_access={cfg.check_access!r}: must be true or false")
    for key in ("base_url", "api_key_env"):
        value = cfg.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise PricebenchError(f"{key}={value!r}: must be a non-empty text, or null")
    _whole(cfg, "train_size", 1)
    _whole(cfg, "validation_size", 1)
    _whole(cfg, "n_epochs", 1)
    _whole(cfg, "seed", 0)
    _number(cfg, "poll_seconds", above=0)
    _number(cfg, "training_price", least=0)
    for key in ("suffix", "model", "output_dir", "registry"):
        if not isinstance(cfg.get(key), str) or not cfg.get(key).strip():
            raise PricebenchError(f"{key}={cfg.get(key)!r}: must be a non-empty text")
    if cfg.job_id is not None and (not isinstance(cfg.job_id, str) or not cfg.job_id.strip()):
        raise PricebenchError(f"job_id={cfg.job_id!r}: must be a job id such as ftjob-abc123")


def check_registry(path: str) -> None:
    """Every line of the job registry is a job record, or one line names the first that is not
    (before any stage runs, so a bad line never stops a stage half done)."""
    registry.read_registry(path)


def check_writable(cfg: DictConfig) -> None:
    """Before anything is uploaded or paid for: the folders this stage writes to can be written."""
    from harness.preflight import unwritable

    stage = cfg.stage
    folders = [("registry", str(Path(cfg.registry).parent), "set registry (or results.dir)")]
    if stage != "follow":
        folders.insert(0, ("output_dir", cfg.output_dir, "set output_dir (or results.dir)"))
    if stage in ("follow", "all") and cfg.wandb.log:
        from harness.tracking import resolve_mode

        try:
            mode = resolve_mode(cfg.wandb.mode)
        except ValueError:
            raise PricebenchError(
                f"wandb.mode={cfg.wandb.mode!r}: must be one of online, offline, disabled, shared"
            ) from None
        if mode != "disabled":
            if cfg.wandb.dir:
                folders.append(("wandb.dir", str(cfg.wandb.dir), "set wandb.dir"))
            elif os.environ.get("WANDB_DIR"):
                folders.append(("WANDB_DIR", os.environ["WANDB_DIR"], "set WANDB_DIR or wandb.dir"))
            else:
                folders.append(("W&B's folder", os.getcwd(), "set wandb.dir"))
    for key, folder, fix in folders:
        problem = unwritable(folder)
        if problem is not None:
            what = key if key == "W&B's folder" else f"{key}={folder}"
            raise PricebenchError(
                f"{what} cannot be written: {problem}; {fix} to a folder you can write to"
                + (", or wandb.log=false" if "W&B" in key or "wandb" in key.lower() else "")
            )


def run(cfg: DictConfig) -> None:
    check_config(cfg)
    check_registry(cfg.registry)
    check_writable(cfg)
    stage = cfg.stage
    if stage != "prepare":
        resolve_base_url(cfg)  # a preset's missing endpoint, before anything is prepared
    workflow = Workflow(cfg)
    for name in STAGES if stage == "all" else (stage,):
        if stage == "all" and name == "prepare" and workflow.state.get("prepared"):
            print(f"already prepared in {workflow.out} (stage=prepare prepares again)")
            continue
        getattr(workflow, name)()


schema.register()  # finetune.yaml's data group is typed like pricebench's


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="finetune")
def _app(cfg: DictConfig) -> None:
    try:
        run(cfg)
    except PricebenchError as exc:
        print(f"pricebench-finetune: error: {exc}", file=sys.stderr)
        sys.exit(2)


def main() -> None:
    """The ``pricebench-finetune`` console script."""
    _app()


if __name__ == "__main__":
    main()
