"""Question generation. The default is offline and rule-based on spaCy parses: the wh-word comes from the
answer's entity type, the answer moves out of its clause (subject questions keep the word order, others
invert the auxiliary or add do-support), and anything the rules cannot handle becomes a cloze-style
question with the wh-word in the answer's place. `Seq2SeqGenerator` runs any Hugging Face text-to-text
question-generation model instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from spacy.tokens import Doc, Token

from zeroxqa.synth.candidates import Candidate

WH_WORDS = {
    "PERSON": "who",
    "DATE": "when",
    "TIME": "when",
    "GPE": "where",
    "LOC": "where",
    "FAC": "where",
    "CARDINAL": "how many",
    "NUMBER": "how many",
    "QUANTITY": "how much",
    "MONEY": "how much",
    "PERCENT": "how much",
    "ORDINAL": "which",
    "NORP": "which group",
    "LANGUAGE": "what language",
    "ORG": "what",
    "EVENT": "what",
    "PRODUCT": "what",
    "WORK_OF_ART": "what",
    "LAW": "what",
    "NOUN_CHUNK": "what",
}
# a fronted when/where takes its preposition with it ("in 1898" -> "when"); what/who strand it ("by whom" reads stilted)
_ADVERBIAL_WH = {"when", "where"}
# dependency labels along which an answer can be questioned from the main clause
_MOVABLE = {"dobj", "pobj", "prep", "attr", "dative", "agent", "npadvmod", "oprd", "nummod", "appos", "compound", "poss", "pcomp"}
_DO_SUPPORT = {"VBD": "did", "VBZ": "does", "VBP": "do"}


@dataclass(frozen=True)
class Question:
    text: str
    template: str  # "subject", "inversion", "do-support", "cloze" or the generator's name


class QuestionGenerator(Protocol):
    name: str

    def __call__(self, items: list[tuple[Doc, Candidate]]) -> list[Question | None]: ...


def wh_word(label: str) -> str:
    return WH_WORDS.get(label, "what")


def _finish(pieces: list[str]) -> str:
    """Pieces keep their own trailing whitespace (as in the paragraph); wh-words and moved words get one space."""
    text = re.sub(r"\s+", " ", "".join(pieces)).strip().rstrip(" .,;:!?")
    text = re.sub(r"\s+,", ",", text).strip(" ,")
    return text[:1].upper() + text[1:] + "?"


def _word(text: str) -> str:
    return text + " "


def _text(tokens: list[Token]) -> list[str]:
    return [t.text_with_ws for t in tokens]


def _subject_np(tokens: list[Token]) -> list[str]:
    """A subject moved after the auxiliary: lower-case its first word unless it is a name or 'I'."""
    words = _text(tokens)
    if tokens and tokens[0].tag_ not in {"NNP", "NNPS"} and tokens[0].text != "I":
        words[0] = words[0].lower()
    return words + [" "]


def rule_question(doc: Doc, cand: Candidate) -> Question:
    """A question whose answer is `cand`, from the sentence that holds it."""
    a0, a1 = cand.tokens
    sent = doc[a0].sent
    wh = wh_word(cand.label)
    answer_head = min((doc[i] for i in range(a0, a1)), key=lambda t: len(list(t.ancestors)))
    root = sent.root
    subject = next((c for c in root.children if c.dep_ in {"nsubj", "nsubjpass"}), None)
    end = sent.end - 1 if sent[-1].is_punct else sent.end

    if subject is not None and root.pos_ in {"VERB", "AUX"}:
        s0, s1 = subject.left_edge.i, subject.right_edge.i + 1
        if s0 <= a0 and a1 <= s1 and answer_head == subject:
            # the answer is the subject: "Marie Curie discovered radium" -> "Who discovered radium?"
            # (a count in front of the subject, "300 workers left", is a cloze: "How many workers left?")
            subject_wh = "what" if wh in _ADVERBIAL_WH else wh
            return Question(_finish([_word(subject_wh)] + _text(list(doc[a1:end]))), "subject")
        moved = _moved_phrase(answer_head, root, wh)
        if moved is not None and not (s0 <= a0 < s1):
            m0, m1, phrase = moved
            rest = [t for t in doc[s1:end] if not (m0 <= t.i < m1)]
            aux = next((c for c in root.children if c.dep_ in {"aux", "auxpass"} and c.i > s0), None)
            if aux is not None or root.lemma_ == "be":
                verb = aux or root
                body = _text([t for t in rest if t.i != verb.i])
                return Question(_finish([_word(phrase), _word(verb.text)] + _subject_np(list(doc[s0:s1])) + body), "inversion")
            if root.tag_ in _DO_SUPPORT:
                body = [root.lemma_ + root.whitespace_ if t.i == root.i else t.text_with_ws for t in rest]
                return Question(_finish([_word(phrase), _word(_DO_SUPPORT[root.tag_])] + _subject_np(list(doc[s0:s1])) + body), "do-support")
    return cloze_question(doc, cand)


def _is_modifier(answer_head: Token, wh: str) -> bool:
    """A count or ordinal in front of its noun: the wh-phrase takes the noun along."""
    return wh in {"how many", "which"} and answer_head.dep_ in {"nummod", "amod"} and answer_head.head.pos_ in {"NOUN", "PROPN"}


def _moved_phrase(answer_head: Token, root: Token, wh: str) -> tuple[int, int, str] | None:
    """The token range that the wh-phrase replaces and the wh-phrase, when the answer hangs off the main
    verb along movable dependencies; None otherwise (the caller falls back to cloze)."""
    path, t = [answer_head], answer_head
    while t.head.i != t.i and t.head.i != root.i:
        t = t.head
        path.append(t)
    if t.head.i != root.i or any(p.dep_ not in _MOVABLE for p in path):
        return None
    phrase_root = answer_head
    if _is_modifier(answer_head, wh):
        phrase_root = answer_head.head  # "300 workers" -> "how many workers"
        wh = f"{wh} {phrase_root.text}"
    if wh in _ADVERBIAL_WH and phrase_root.dep_ == "pobj" and phrase_root.head.dep_ == "prep":
        phrase_root = phrase_root.head  # "in 1898" -> "when"
    return phrase_root.left_edge.i, phrase_root.right_edge.i + 1, wh


def cloze_question(doc: Doc, cand: Candidate) -> Question:
    """The answer's sentence with the wh-word in the answer's place: "Curie discovered radium in when?"."""
    a0, a1 = cand.tokens
    sent = doc[a0].sent
    end = sent.end - 1 if sent[-1].is_punct else sent.end
    words = _text(list(doc[sent.start : a0])) + [_word(wh_word(cand.label))] + _text(list(doc[a1:end]))
    return Question(_finish(words), "cloze")


class RuleGenerator:
    """The offline default."""

    name = "rule"

    def __call__(self, items: list[tuple[Doc, Candidate]]) -> list[Question | None]:
        return [rule_question(doc, cand) for doc, cand in items]


class Seq2SeqGenerator:
    """Any Hugging Face text-to-text QG model (a path or a hub name), prompted with `prompt`, which has
    `{answer}` and `{context}` fields. Greedy decoding, so the output is deterministic."""

    def __init__(self, name_or_path: str, prompt: str, batch_size: int = 16, max_new_tokens: int = 48):
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        self.name = f"seq2seq:{name_or_path}"
        self.tokenizer = AutoTokenizer.from_pretrained(name_or_path)
        self.model = AutoModelForSeq2SeqLM.from_pretrained(name_or_path).eval()
        self.prompt, self.batch_size, self.max_new_tokens = prompt, batch_size, max_new_tokens

    def __call__(self, items: list[tuple[Doc, Candidate]]) -> list[Question | None]:
        import torch

        prompts = [self.prompt.format(answer=c.text, context=doc.text) for doc, c in items]
        out: list[Question | None] = []
        for i in range(0, len(prompts), self.batch_size):
            enc = self.tokenizer(prompts[i : i + self.batch_size], return_tensors="pt", padding=True, truncation=True, max_length=512)
            with torch.inference_mode():
                ids = self.model.generate(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], max_new_tokens=self.max_new_tokens, do_sample=False, num_beams=1)
            for text in self.tokenizer.batch_decode(ids, skip_special_tokens=True):
                text = text.strip().removeprefix("question:").strip()
                out.append(Question(text, self.name) if text else None)
        return out


def make_generator(name: str, prompt: str, batch_size: int) -> QuestionGenerator:
    return RuleGenerator() if name == "rule" else Seq2SeqGenerator(name, prompt, batch_size)
