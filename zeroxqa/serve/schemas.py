"""The API's request and response models (OpenAPI at /docs is generated from them)."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator


class _Question(BaseModel):
    question: str = Field(..., description="the question, in plain text", examples=["What is the refund window?"])

    @field_validator("question")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("the question is empty")
        return v


class AskRequest(_Question):
    domain: str = Field(..., min_length=1, description="a domain of GET /v1/domains", examples=["walmart.com"])
    top_k: int | None = Field(None, ge=1, description="paragraphs to read (default: the domain index's top_k)")


class ReadRequest(_Question):
    context: str = Field(..., description="the paragraph to read")

    @field_validator("context")
    @classmethod
    def _context_not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("the context is empty")
        return v


class Timings(BaseModel):
    retrieve_ms: float = 0.0
    read_ms: float = 0.0
    total_ms: float = 0.0


class Paragraph(BaseModel):
    context_id: str
    text: str
    retrieval_score: float
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
    paragraphs: int | None = Field(None, description="size of its retrieval index (null: no index, /v1/ask refuses)")
    note: str | None = None
    error: str | None = Field(None, description="the last failure to load a newer model (the one above still serves)")


class Health(BaseModel):
    status: str
    domains: int
    errors: dict[str, str]
