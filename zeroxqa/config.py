"""Typed configuration shared by the CLI, the Prefect tasks and the flows: one source of defaults."""

from __future__ import annotations

from pydantic import BaseModel, Field, model_validator


class ShardConfig(BaseModel):
    """How inputs become per-domain shards."""

    dev_fraction: float = Field(0.2, ge=0.0, lt=1.0, description="share of each domain's contexts held out as dev")
    seed: int = Field(13, description="seed of the context-level train/dev split")


class ReaderConfig(BaseModel):
    """How text becomes windows and logits become answers; the same at training, evaluation and inference."""

    max_length: int = Field(256, ge=32, le=512, description="tokens per window (question + context); never padded to a fixed size")
    doc_stride: int = Field(64, ge=0, description="tokens of overlap between consecutive windows of a long context")
    max_answer_length: int = Field(30, ge=1, description="longest answer span, in tokens")
    n_best: int = Field(20, ge=1, description="start and end candidates considered per window")
    max_question_length: int = Field(64, ge=4, description="longer questions are cut to this many tokens")

    @model_validator(mode="after")
    def _room_for_context(self) -> "ReaderConfig":
        # [CLS] question [SEP] context [SEP]: the context part must be longer than the stride
        if self.max_question_length + self.doc_stride + 4 > self.max_length:
            raise ValueError(
                f"max_question_length ({self.max_question_length}) + doc_stride ({self.doc_stride}) + 4 "
                f"must not exceed max_length ({self.max_length})"
            )
        return self


class TrainConfig(BaseModel):
    """A plain fine-tuning run. The defaults suit MiniLM-L6 on 2 CPU cores."""

    epochs: int = Field(2, ge=1)
    batch_size: int = Field(16, ge=1)
    eval_batch_size: int = Field(64, ge=1)
    learning_rate: float = Field(1e-4, gt=0)
    weight_decay: float = Field(0.01, ge=0)
    warmup_ratio: float = Field(0.1, ge=0, le=1)
    max_grad_norm: float = Field(1.0, gt=0)
    max_steps: int | None = Field(None, ge=1, description="stop after this many optimizer steps (a budget cap)")
    seed: int = 13
    threads: int | None = Field(None, ge=1, description="torch threads; default: all cores")


class MainJobConfig(BaseModel):
    """`zeroxqa run`: the main job on the embedded sample, with a small budget that suits a laptop."""

    out: str = Field("runs/main", description="where shards, models and reports go")
    max_steps: int = Field(60, ge=1, description="optimizer steps of the in-domain reader")
    reader: ReaderConfig = Field(default_factory=lambda: ReaderConfig(max_length=192, doc_stride=48))
    shard: ShardConfig = Field(default_factory=ShardConfig)
