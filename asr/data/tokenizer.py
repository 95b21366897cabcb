"""SentencePiece wordpiece tokenizer with the transducer blank at id 0.

Trained on the training split's transcripts only and saved beside the data
(``<dataset dir>/spm_<type><vocab>.model``). Id 0 is ``<blank>`` (the pad id,
never produced by encoding), id 1 ``<unk>``; there is no BOS/EOS.
"""

import io
import os
from typing import Iterable, Sequence

import sentencepiece as spm

BLANK_ID = 0


class Tokenizer:
  """Encodes normalized text to wordpiece ids and back."""

  def __init__(self, model_path: str):
    if not os.path.exists(model_path):
      raise FileNotFoundError(f"tokenizer model not found: {model_path}")
    self.path = model_path
    self.sp = spm.SentencePieceProcessor(model_file=model_path)
    if self.sp.pad_id() != BLANK_ID:
      raise ValueError(f"{model_path}: pad id must be {BLANK_ID} (the blank)")

  @property
  def vocab_size(self) -> int:
    return self.sp.get_piece_size()

  def encode(self, text: str) -> list[int]:
    return self.sp.encode(text, out_type=int)

  def decode(self, ids: Sequence[int]) -> str:
    return self.sp.decode([int(i) for i in ids if int(i) != BLANK_ID])

  def pieces(self, ids: Sequence[int]) -> list[str]:
    return [self.sp.id_to_piece(int(i)) for i in ids]


def train_tokenizer(texts: Iterable[str], model_path: str, vocab_size: int = 256,
                    model_type: str = "unigram") -> Tokenizer:
  """Trains a SentencePiece model on normalized texts and saves it.

  Args:
    texts: normalized transcripts (training split only).
    model_path: output path ending in ``.model``.
    vocab_size: total pieces, blank and unk included.
    model_type: ``unigram`` or ``bpe``.
  """
  if not model_path.endswith(".model"):
    raise ValueError(f"model_path must end in .model: {model_path}")
  # Every letter once, so that unseen names are always spellable.
  corpus = list(texts) + [" ".join("abcdefghijklmnopqrstuvwxyz'")]
  buf = io.BytesIO()
  spm.SentencePieceTrainer.train(
      sentence_iterator=iter(corpus), model_writer=buf, vocab_size=vocab_size,
      model_type=model_type, character_coverage=1.0, pad_id=BLANK_ID,
      pad_piece="<blank>", unk_id=1, bos_id=-1, eos_id=-1,
      num_threads=1, minloglevel=2, hard_vocab_limit=False,
      split_digits=True, shuffle_input_sentence=False)
  os.makedirs(os.path.dirname(os.path.abspath(model_path)), exist_ok=True)
  tmp = model_path + ".tmp"
  with open(tmp, "wb") as f:
    f.write(buf.getvalue())
  os.replace(tmp, model_path)
  return Tokenizer(model_path)


def tokenizer_path(dataset_dir: str, vocab_size: int, model_type: str = "unigram") -> str:
  return os.path.join(dataset_dir, f"spm_{model_type}{vocab_size}.model")
