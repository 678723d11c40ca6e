"""``pricebench-finetune``: prepare → upload → create → follow a GPT-4o-mini fine-tuning job.

``stage=prepare|upload|create|follow|all`` (default ``all``). Each stage records what it did in
``<output_dir>/state.json`` and the next one resumes from there, so a rerun skips what is done.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

from finetune import jobs
from harness import registry, results, schema
from harness.data import load_dataset
from harness.errors import PricebenchError
from harness.paths import CONF_DIR

STAGES = ("prepare", "upload", "create", "follow")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _plain(node: DictConfig) -> dict[str, Any]:
    """A config section as a plain dict, for passing on to code that knows nothing of OmegaConf."""
    container = OmegaConf.to_container(node, resolve=True)
    assert isinstance(container, dict)
    return {str(key): value for key, value in container.items()}


class Workflow:
    def __init__(self, cfg: DictConfig) -> None:
        self.cfg = cfg
        self.out = Path(cfg.output_dir)
        self.state_path = self.out / "state.json"
        self.state: dict[str, Any] = (
            json.loads(self.state_path.read_text()) if self.state_path.is_file() else {}
        )
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = jobs.client_for(self.cfg.base_url, self.cfg.api_key_env)
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

        dataset = load_dataset(**_plain(self.cfg.data), drop_test_overlap=False)
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
        for name, key in (("training", "training_file"), ("validation", "validation_file")):
            path = Path(prepared[name]["path"])
            if not path.is_file() or _sha256(path) != prepared[name]["sha256"]:
                raise PricebenchError(
                    f"{path} changed or vanished since it was validated: rerun stage=prepare"
                )
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
        job = jobs.create_job(self.client, settings, self.state["training_file"],
                              self.state.get("validation_file"))  # fmt: skip
        self.save(job_id=job.id)
        registry.record_job(self.cfg.registry, {
            "job_id": job.id, "suffix": self.cfg.suffix, "base_model": self.cfg.model,
            "model": None, "status": job.status, "base_url": self.cfg.base_url,
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
            config = {**self.settings(), "job_id": job.id, "training_file": job.training_file,
                      "validation_file": job.validation_file, "train_size": self.cfg.train_size,
                      "validation_size": self.cfg.validation_size}  # fmt: skip
            rows = jobs.result_rows(self.client, job)
            jobs.log_to_wandb(_plain(self.cfg.wandb), config, job, metrics, rows)
        if job.status != "succeeded":
            raise PricebenchError(f"fine-tuning job {job.id} {job.status}: {jobs.job_error(job)}")
        print(f"fine-tuned model: {job.fine_tuned_model}")
        print(f"evaluate it with: pricebench predictor=fine_tuned predictor.job_id={job.id}")


def run(cfg: DictConfig) -> None:
    stage = cfg.stage
    if stage not in (*STAGES, "all"):
        raise PricebenchError(f"stage must be one of {', '.join(STAGES)} or all, not {stage!r}")
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
