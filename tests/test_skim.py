"""Context skimming: sentences, the scorer's choice on paragraphs built for it, and answers mapped back."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zeroxqa.config import SkimConfig
from zeroxqa.decode import SpanPrediction
from zeroxqa.skim import sentence_spans, skim

# paragraphs built so that the answer's sentence, and only it, shares the question's rarer words; the
# other sentences share its common ones (the article's subject), as in SQuAD paragraphs
BUILT = [
    ("The Normans were the people who gave their name to Normandy. They descended from Norse raiders. "
     "In the 10th century the Normans swore fealty to the king of West Francia. The Norman dynasty had a major "
     "political, cultural and military impact on medieval Europe.",
     "To which king did the Normans swear fealty?", "the king of West Francia"),
    ("Our store accepts returns within 30 days. Refunds are issued to the original payment method within "
     "5 business days. Gift cards cannot be refunded. Shipping costs are paid by the customer.",
     "How long does it take for refunds to be issued?", "5 business days"),
    ("Warsaw is the capital of Poland. The city has a population of 1.7 million. Warsaw's Old Town was "
     "rebuilt after the Second World War and is a UNESCO World Heritage Site. The Vistula river runs through it.",
     "Which river runs through Warsaw?", "Vistula"),
    ("The Amazon rainforest covers much of the Amazon basin of South America. "
     "\"The forest holds about 390 billion trees,\" one study estimated. "
     "Deforestation in the region increased sharply in the 1970s. The basin spans nine nations.",
     "How many trees does the forest hold?", "390 billion"),
]


def test_sentences_cover_the_text_without_their_white_space():
    text = 'He said "stop." Then he left!  Why? Because (it was late.) The end'
    spans = sentence_spans(text)
    assert [text[a:b] for a, b in spans] == ['He said "stop."', "Then he left!", "Why?",
                                              "Because (it was late.)", "The end"]
    assert sentence_spans("") == [] and sentence_spans("no boundary here") == [(0, 16)]


@pytest.mark.parametrize("context,question,answer", BUILT)
def test_the_kept_sentence_holds_the_answer(context, question, answer):
    one = skim(question, context, 1)
    assert answer in one.text and len(one.text) < len(context) / 2
    start = one.text.index(answer)
    restored = one.restore(SpanPrediction(answer, start, 1.0, 0.0), context)
    assert restored.text == answer and restored.start == context.index(answer)


def test_kept_sentences_keep_their_order_and_short_paragraphs_are_read_whole():
    context, question, _ = BUILT[0]
    two = skim(question, context, 2)
    firsts = [src for _, src, _ in two.pieces]
    assert firsts == sorted(firsts) and len(two.pieces) == 2
    assert skim(question, context, 4).text == context  # four sentences: nothing to skip
    assert skim("what is it?", context, 1).text == context  # no content word: no ground to drop anything


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet="abcdefgh xyz", min_size=1, max_size=30).filter(str.strip), min_size=2, max_size=8),
       st.integers(1, 3), st.data())
def test_any_span_read_maps_back_to_the_same_text(sentences, keep, data):
    context = ". ".join(sentences) + "."
    question = data.draw(st.sampled_from(sentences))
    read = skim(question, context, keep)
    a = data.draw(st.integers(0, len(read.text) - 1))
    b = data.draw(st.integers(a + 1, len(read.text)))
    restored = read.restore(SpanPrediction(read.text[a:b], a, 1.0, 0.0), context)
    assert context[restored.start:restored.start + len(restored.text)] == restored.text
    # within one kept piece the text is the same; across pieces, the original runs from start to end
    if not any(at <= a and b <= at + n for at, _, n in read.pieces):
        assert len(restored.text) >= b - a - 1
    else:
        assert restored.text == read.text[a:b]


def test_a_skimming_engine_reads_less_and_answers_in_the_original_context(tiny_reader):
    from zeroxqa.inference import QAEngine

    from helpers import SMALL

    whole = QAEngine.from_reader(tiny_reader, SMALL)
    skimming = QAEngine.from_reader(tiny_reader, SMALL)
    skimming.skim = SkimConfig(keep_sentences=1)
    questions, contexts = [q for _, q, _ in BUILT], [c for c, _, _ in BUILT]
    for engine in (whole, skimming):
        for pred, context in zip(engine.spans(questions, contexts), contexts):
            assert pred.start >= 0 and context[pred.start:pred.start + len(pred.text)] == pred.text
    read = [skim(q, c, 1).text for q, c in zip(questions, contexts)]
    assert sum(map(len, read)) < sum(map(len, contexts)) / 2
