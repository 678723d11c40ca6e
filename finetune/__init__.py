"""Fine-tuning GPT-4o-mini the course's way: ``pricebench-finetune`` (:mod:`finetune.cli`)
prepares the data (:mod:`finetune.data`), uploads it, creates and follows the job
(:mod:`finetune.jobs`) and records it in the job registry (:mod:`harness.registry`), where the
``fine_tuned`` predictor finds it. Imports ``harness`` and ``predictors.prompts``; nothing in
``harness`` or ``predictors`` imports this package."""
