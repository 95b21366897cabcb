"""A small causal Transformer language model over the ASR's SentencePiece pieces.

Units: the wordpieces of the recognizer's own tokenizer (256 pieces in
``small``), not words: the test splits name people the training text never
names, and pieces spell any name (a word model would map them all to <unk>).
Id 0 (the transducer blank, never produced by encoding) serves as both
beginning- and end-of-sentence symbol, so ``log P(sentence)`` includes the
end: ``sum_i log p(y_i | <s> y_<i) + log p(</s> | <s> y)``.

Pre-LayerNorm decoder blocks (GPT-2 style): causal multi-head self-attention,
GELU MLP; learned absolute positions; output projection tied to the input
embedding.
"""

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

BOS = EOS = 0  # the tokenizer's blank / pad id


@dataclasses.dataclass(frozen=True)
class LMConfig:
  vocab_size: int = 256
  dim: int = 128
  num_layers: int = 2
  num_heads: int = 4
  mlp_dim: int = 512
  max_len: int = 64  # positions, <s> included
  dropout: float = 0.1


class Block(nn.Module):
  cfg: LMConfig

  @nn.compact
  def __call__(self, x, mask, train: bool):
    c = self.cfg
    h = nn.LayerNorm()(x)
    h = nn.MultiHeadDotProductAttention(num_heads=c.num_heads, qkv_features=c.dim,
                                        dropout_rate=c.dropout, deterministic=not train)(h, h, mask=mask)
    x = x + nn.Dropout(c.dropout, deterministic=not train)(h)
    h = nn.LayerNorm()(x)
    h = nn.Dense(c.mlp_dim)(h)
    h = nn.Dense(c.dim)(nn.gelu(h))
    return x + nn.Dropout(c.dropout, deterministic=not train)(h)


class TransformerLM(nn.Module):
  """inputs [B, L] int (``<s> y_1 .. y_{L-1}``) -> next-piece logits [B, L, V]."""
  cfg: LMConfig

  @nn.compact
  def __call__(self, inputs, train: bool = False):
    c = self.cfg
    b, l = inputs.shape
    assert l <= c.max_len, (l, c.max_len)
    embed = nn.Embed(c.vocab_size, c.dim, embedding_init=nn.initializers.normal(0.02))
    pos = self.param("pos", nn.initializers.normal(0.02), (c.max_len, c.dim))
    x = embed(inputs) + pos[None, :l]
    x = nn.Dropout(c.dropout, deterministic=not train)(x)
    mask = nn.make_causal_mask(inputs)  # [B, 1, L, L]: position i sees j <= i
    for _ in range(c.num_layers):
      x = Block(c)(x, mask, train)
    x = nn.LayerNorm()(x)
    return embed.attend(x.astype(jnp.float32))


def make_batch(seqs, max_len: int) -> dict:
  """Piece sequences -> {"inputs", "targets", "weights"} [B, max_len]; longer ones are cut.

  inputs = <s> y_1..y_n, targets = y_1..y_n </s>, weights 1 on the n+1 real targets.
  """
  b = len(seqs)
  inputs = np.zeros((b, max_len), np.int32)
  targets = np.zeros((b, max_len), np.int32)
  weights = np.zeros((b, max_len), np.float32)
  for i, s in enumerate(seqs):
    s = list(s)[:max_len - 1]
    n = len(s)
    inputs[i, 1:n + 1] = s
    targets[i, :n] = s
    targets[i, n] = EOS
    weights[i, :n + 1] = 1.0
  return {"inputs": inputs, "targets": targets, "weights": weights}


def token_logprobs(model, params, inputs, targets):
  """log p(targets[b, i] | inputs[b, :i+1]) [B, L]."""
  logits = model.apply({"params": params}, inputs, train=False)
  lp = jax.nn.log_softmax(logits, axis=-1)
  return jnp.take_along_axis(lp, targets[..., None], axis=-1)[..., 0]


def count_params(params) -> int:
  return int(sum(np.prod(x.shape) for x in jax.tree_util.tree_leaves(params)))
