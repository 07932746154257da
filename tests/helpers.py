"""Small hand-made QA rows shared by the tests."""

from zeroxqa.config import ReaderConfig

SMALL = ReaderConfig(max_length=64, doc_stride=16, max_question_length=32)
ROWS = [
    {"id": "a", "domain": "d", "context": "Alice was born in Paris in 1990.", "question": "Where was Alice born?",
     "answers": [{"text": "Paris", "start": 18}], "is_impossible": False},
    {"id": "b", "domain": "d", "context": "The river Thames flows through London.", "question": "Which river flows through London?",
     "answers": [{"text": "Thames", "start": 10}], "is_impossible": False},
    {"id": "c", "domain": "d", "context": "Bob sells red apples at the market.", "question": "What colour are the apples?",
     "answers": [{"text": "red", "start": 10}], "is_impossible": False},
    {"id": "e", "domain": "e", "context": "The meeting starts at noon on Friday.", "question": "Who chairs the meeting?",
     "answers": [], "is_impossible": True},
]


def train_tiny_reader(out, layers: int = 2):
    """A tiny random BERT reader (real MiniLM tokenizer) trained until it answers ROWS, saved like any reader."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForQuestionAnswering

    from zeroxqa.config import TrainConfig
    from zeroxqa.reader.model import Reader, resolve_model_path
    from zeroxqa.reader.train import train_reader

    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(resolve_model_path("minilm"))
    config = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=layers, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=512)
    cfg = TrainConfig(epochs=40, batch_size=4, learning_rate=3e-3, warmup_ratio=0.0, seed=0)
    train_reader(Reader(BertForQuestionAnswering(config), tok, {}), ROWS, ROWS, out, SMALL, cfg)
    return out
