"""The API's request and response models (OpenAPI at /docs is generated from them)."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator


def _encodable(v: str, what: str) -> str:
    """Text a tokenizer can read: JSON allows escaped lone surrogates (`\\ud800`), UTF-8 does not."""
    try:
        v.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ValueError(f"the {what} holds invalid text (a lone surrogate at character {e.start})") from None
    return v


class _Question(BaseModel):
    question: str = Field(..., description="the question, in plain text", examples=["What is the refund window?"])

    @field_validator("question")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("the question is empty")
        return _encodable(v, "question")


class AskRequest(_Question):
    domain: str = Field(..., min_length=1, max_length=200, description="a domain of GET /v1/domains", examples=["walmart.com"])
    top_k: int | None = Field(None, ge=1, description="paragraphs to read (default: the domain index's top_k)")


class ReadRequest(_Question):
    context: str = Field(..., description="the paragraph to read")

    @field_validator("context")
    @classmethod
    def _context_not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("the context is empty")
        return _encodable(v, "context")


class Timings(BaseModel):
    retrieve_ms: float = 0.0
    read_ms: float = 0.0
    total_ms: float = 0.0


class Paragraph(BaseModel):
    context_id: str
    text: str
    retrieval_score: float = Field(..., description="the ranking's own score (RRF: 1/(60+rank) summed; only its order means something)")
    similarity: float | None = Field(None, description="cosine similarity of question and paragraph, -1..1 (dense)")
    bm25: float | None = Field(None, description="BM25 score of the paragraph's words against the question's (0: none in common)")
    answer: str | None = Field(None, description="what the reader found here (null: it abstains here)")
    start: int | None = None
    end: int | None = None
    confidence: float


class AskResponse(BaseModel):
    domain: str
    question: str
    answer: str | None = Field(None, description="the answer; null when no paragraph clears the no-answer threshold")
    context_id: str | None = Field(None, description="the paragraph the answer comes from")
    start: int | None = Field(None, description="character offset of the answer in that paragraph")
    end: int | None = None
    confidence: float = Field(..., description="sigmoid(threshold - na_score) of the chosen span: >= 0.5 answers")
    paragraphs: list[Paragraph] = Field(..., description="the retrieved paragraphs, best ranked first")
    model: str
    variant: str | None = None
    timings: Timings


class ReadResponse(BaseModel):
    question: str
    answer: str | None = None
    start: int | None = None
    end: int | None = None
    confidence: float
    model: str
    timings: Timings


class DomainInfo(BaseModel):
    domain: str
    model: str
    variant: str | None = None
    f1: float | None = None
    promoted_at: str | None = None
    indexed: bool = Field(True, description="whether it has a retrieval index (without one, /v1/ask refuses)")
    loaded: bool = Field(False, description="whether its model and index are in memory now (else loaded when asked)")
    paragraphs: int | None = Field(None, description="size of its retrieval index, when loaded")
    note: str | None = None
    error: str | None = Field(None, description="the last failure to load a newer model (the one above still serves)")


class Health(BaseModel):
    status: str = Field(..., description="ok; degraded (a domain's promoted model was refused or failed to load); loading")
    domains: int
    loaded: int = 0
    errors: dict[str, str]
