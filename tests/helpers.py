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
