"""Input pipelines: prompt masking, overlong policy, bad records, host sharding, epochs, pairs."""

import itertools

from array_record.python import array_record_module
import numpy as np
import pytest
from test_train_helpers import tiny_tokenizer
from test_train_helpers import write

from rstar_jax.format import prompts
from rstar_jax.training import inputs
from rstar_jax.training import ppm_data
from rstar_jax.training import sft
from rstar_jax.training import sft_data
from rstar_jax.training.config import PPMConfig
from rstar_jax.training.config import SFTConfig

RESPONSE = "<code>\nx = 1 + 2\nprint(x)\n<end_of_code><output>3<end_of_output><answer>\\boxed{3}<end_of_answer>"


def sft_rows(n: int) -> list[dict]:
  return [
    {
      "problem_id": f"p{i}",
      "prompt": prompts.policy_prompt(f"What is {i} plus 2?"),
      "response": RESPONSE.replace("1", str(i)),
    }
    for i in range(n)
  ]


def pair_rows(n: int) -> list[dict]:
  return [
    {
      "problem_id": f"p{i // 2}",
      "prompt": prompts.policy_prompt(f"What is {i}?"),
      "pos": "<code>\nx = 1<end_of_step>",
      "neg": "<code>\nx = 12 * 7 + 3<end_of_step>",
      "pos_q": 0.5,
      "neg_q": -0.5,
    }
    for i in range(n)
  ]


def test_prompt_tokens_carry_no_loss(tmp_path):
  tok = tiny_tokenizer()
  cfg = SFTConfig(batch_size=4, max_len=256)
  data = sft_data.load_sft(write(tmp_path, sft_rows(4), "sft"), tok, cfg)
  batch = sft_data.make_sft_batcher(data, pad_id=tok.pad_token_id, cfg=cfg)(
    np.arange(4), inputs.Layout(4, 1, 0, 1)
  )
  for j, row in enumerate(sft_rows(4)):
    n_prompt = len(tok.encode(row["prompt"]))
    response = [*tok.encode(row["response"], add_special_tokens=False), tok.eos_token_id]
    weights, labels, mask = batch["weights"][0, j], batch["labels"][0, j], batch["mask"][0, j]
    # Position t predicts token t+1: weight 1 exactly where the label is a response token.
    assert not weights[: n_prompt - 1].any()
    np.testing.assert_array_equal(weights[n_prompt - 1 : n_prompt - 1 + len(response)], 1.0)
    assert not weights[n_prompt - 1 + len(response) :].any()
    np.testing.assert_array_equal(labels[n_prompt - 1 : n_prompt - 1 + len(response)], response)
    assert mask.sum() == n_prompt + len(response)
  assert batch["tokens"].shape[-1] % cfg.bucket_multiple == 0
  # In length-grouped runs every row also carries the dataset's mean response tokens: the step's
  # denominator. Plain batches have no such key.
  grouped_cfg = SFTConfig(batch_size=4, max_len=256, group_by_length=8)
  grouped = sft_data.make_sft_batcher(data, pad_id=tok.pad_token_id, cfg=grouped_cfg)(
    np.arange(4), inputs.Layout(4, 1, 0, 1)
  )
  assert "norm" not in batch
  np.testing.assert_allclose(grouped["norm"], batch["weights"].sum() / 4)
  assert sft.sft_task(cfg).weight_key == "weights"
  assert sft.sft_task(grouped_cfg).weight_key == "norm"


@pytest.mark.parametrize("overlong", ["truncate", "drop"])
def test_overlong_sequences_are_counted(tmp_path, overlong):
  tok = tiny_tokenizer()
  rows = sft_rows(3)
  rows[1]["response"] = RESPONSE * 20
  rows[2]["prompt"] = "What is 1 plus 2? " * 60  # The prompt alone is too long: nothing to learn.
  cfg = SFTConfig(max_len=200, overlong=overlong, batch_size=1)
  data = sft_data.load_sft(write(tmp_path, rows, "sft"), tok, cfg)
  stats = data.stats
  assert stats.records == 3 and stats.dropped_no_target == int(overlong == "truncate")
  if overlong == "truncate":
    assert (stats.used, stats.truncated, stats.dropped_overlong) == (2, 2, 0)
    assert data.tokens.lengths.max() == 200
  else:
    assert (stats.used, stats.truncated, stats.dropped_overlong) == (1, 0, 2)


def test_empty_missing_and_foreign_datasets_are_clear_errors(tmp_path):
  tok = tiny_tokenizer()
  with pytest.raises(FileNotFoundError, match="does not exist"):
    sft_data.load_sft(tmp_path / "nope", tok, SFTConfig())
  (tmp_path / "none").mkdir()
  with pytest.raises(FileNotFoundError, match=r"no manifest\.json"):
    sft_data.load_sft(tmp_path / "none", tok, SFTConfig())
  with pytest.raises(ValueError, match="no usable example among 0 records"):
    sft_data.load_sft(write(tmp_path / "empty", [], "sft"), tok, SFTConfig())
  with pytest.raises(ValueError, match="holds a 'ppm_pairs' dataset, expected 'sft'"):
    sft_data.load_sft(write(tmp_path / "pairs", pair_rows(2), "ppm_pairs"), tok, SFTConfig())


def test_bad_records_name_shard_and_index(tmp_path):
  tok = tiny_tokenizer()
  rows = sft_rows(5)
  del rows[3]["response"]
  write(tmp_path / "missing", rows, "sft", per_shard=2)
  with pytest.raises(ValueError, match=r"sft-00001-of-00003.array_record record 1: missing field"):
    sft_data.load_sft(tmp_path / "missing", tok, SFTConfig())
  shard = write(tmp_path / "junk", sft_rows(1), "sft") / "sft-00000-of-00001.array_record"
  writer = array_record_module.ArrayRecordWriter(str(shard), "group_size:1")
  writer.write(b"\xff not json")
  writer.close()
  with pytest.raises(
    ValueError, match=r"sft-00000-of-00001\.array_record record 0: not a UTF-8 JSON"
  ):
    sft_data.load_sft(tmp_path / "junk", tok, SFTConfig())
  with pytest.raises(ValueError, match="record 0: missing fields 'pos_q'"):
    ppm_data.load_pairs(
      write(
        tmp_path / "pairs",
        [{"problem_id": "a", "prompt": "p", "pos": "x", "neg": "y"}],
        "ppm_pairs",
      ),
      tok,
      PPMConfig(objective="pqm"),
    )


def test_too_small_dataset_for_one_batch(tmp_path):
  tok = tiny_tokenizer()
  cfg = SFTConfig(batch_size=8, epochs=1)
  data = sft_data.load_sft(write(tmp_path, sft_rows(5), "sft"), tok, cfg)
  with pytest.raises(ValueError, match="do not fill one batch of 8"):
    inputs.train_stream(
      len(data),
      lambda idx, layout: {},
      layout=inputs.Layout(8, 1, 0, 1),
      epochs=1,
      seed=0,
      max_steps=None,
    )


def test_hosts_split_each_micro_batch_and_agree_on_length(tmp_path):
  tok = tiny_tokenizer()
  rows = sft_rows(16)
  rows[5]["response"] = RESPONSE * 3
  cfg = SFTConfig(batch_size=8, grad_accum=2, epochs=1, max_len=512, bucket_multiple=32)
  data = sft_data.load_sft(write(tmp_path, rows, "sft"), tok, cfg)
  batcher = sft_data.make_sft_batcher(data, pad_id=tok.pad_token_id, cfg=cfg)
  streams = [
    inputs.train_stream(
      len(data),
      lambda idx, layout: {"idx": layout.host_rows(idx)},
      layout=inputs.Layout(8, 2, p, 2),
      epochs=1,
      seed=3,
      max_steps=None,
    )[0]
    for p in range(2)
  ]
  assert len(streams[0]) == 2
  seen = []
  for b0, b1 in zip(*streams):
    assert b0["idx"].shape == (2, 2)
    both = np.concatenate([b0["idx"], b1["idx"]], axis=1)  # (micro-batches, rows)
    seen.extend(both.reshape(-1).tolist())
    lengths = [
      batcher(np.concatenate([b0["idx"], b1["idx"]], 1).reshape(-1), inputs.Layout(8, 2, p, 2))[
        "tokens"
      ].shape
      for p in range(2)
    ]
    assert lengths[0] == lengths[1]
  assert sorted(seen) == list(range(16))


def test_epochs_reshuffle_and_cover_every_example():
  ds, total = inputs.train_stream(
    6, lambda idx, layout: idx, layout=inputs.Layout(3, 1, 0, 1), epochs=2, seed=0, max_steps=None
  )
  batches = [b.tolist() for b in ds]
  assert total == 4 and len(batches) == 4
  first = [i for b in batches[:2] for i in b]
  second = [i for b in batches[2:] for i in b]
  assert sorted(first) == sorted(second) == list(range(6)) and first != second
  it = iter(ds)
  next(it)
  state = it.get_state()
  rest = [b.tolist() for b in it]
  it2 = iter(ds)
  it2.set_state(state)
  assert [b.tolist() for b in it2] == rest


def test_pairs_last_index_split_and_orm_filter(tmp_path):
  tok = tiny_tokenizer()
  rows = pair_rows(12)
  rows[0]["pos"] += "<answer>\\boxed{1}<end_of_answer>"
  rows[0]["neg"] += "<answer>\\boxed{2}<end_of_answer>"
  d = write(tmp_path, rows, "ppm_pairs")
  data, stats = ppm_data.load_pairs(d, tok, PPMConfig(max_len=512))
  assert stats.used == 12 and len(data) == 12
  train, held = ppm_data.split_by_problem(data, 0.34, seed=0)
  assert len(held) == 4 and not set(train.problem_ids) & set(held.problem_ids)
  cfg = PPMConfig(max_len=512, bucket_multiple=16)
  batch = ppm_data.make_pair_batcher(data, pad_id=tok.pad_token_id, cfg=cfg)(
    np.arange(4), inputs.Layout(4, 1, 0, 1)
  )
  for j in range(4):
    for side, key in enumerate(("pos", "neg")):
      ids = tok.encode(rows[j]["prompt"] + rows[j][key])
      last = batch["last"][0, j, side]
      assert last == len(ids) - 1 and batch["tokens"][0, j, side, last] == ids[-1]
      assert batch["mask"][0, j, side].sum() == len(ids)
  np.testing.assert_allclose(batch["q"][0], [[0.5, -0.5]] * 4)
  orm, orm_stats = ppm_data.load_pairs(d, tok, PPMConfig(objective="orm"))
  assert len(orm) == 1 and orm_stats.filtered == 11


def test_pair_truncation_keeps_the_scored_end(tmp_path):
  tok = tiny_tokenizer()
  rows = pair_rows(2)
  rows[0]["prompt"] = "What is 1 plus 2? " * 40
  data, stats = ppm_data.load_pairs(write(tmp_path, rows, "ppm_pairs"), tok, PPMConfig(max_len=64))
  assert stats.truncated == 2 and data.pos.lengths[0] == 64
  np.testing.assert_array_equal(data.pos[0], tok.encode(rows[0]["prompt"] + rows[0]["pos"])[-64:])


def test_eval_batches_pad_with_invalid_rows(tmp_path):
  tok = tiny_tokenizer()
  data, _ = ppm_data.load_pairs(write(tmp_path, pair_rows(5), "ppm_pairs"), tok, PPMConfig())
  batcher = ppm_data.make_pair_batcher(data, pad_id=tok.pad_token_id, cfg=PPMConfig())
  batches = inputs.eval_batches(5, batcher, layout=inputs.Layout(8, 2, 0, 1))
  valid = np.concatenate([b["valid"].reshape(-1) for b in batches])
  assert len(batches) == 2 and valid.tolist() == [1.0] * 5 + [0.0] * 3


def test_length_grouping_pads_less_and_keeps_every_example_once_per_epoch():
  lengths = np.random.default_rng(1).integers(10, 500, 96)

  def stream(group, max_steps=None, lengths=lengths):
    return inputs.train_stream(
      96,
      lambda idx, layout: idx,
      layout=inputs.Layout(4, 1, 0, 1),
      epochs=2,
      seed=7,
      max_steps=max_steps,
      lengths=lengths,
      group_by_length=group,
    )

  plain = [b.tolist() for b in stream(0)[0]]
  ds, total = stream(8)
  grouped = [b.tolist() for b in ds]
  assert total == len(plain) == len(grouped) == 48
  # Each window of 8 batches holds the plain stream's rows of those batches, sorted into batches.
  for w in range(0, 48, 8):
    assert sorted(i for b in grouped[w : w + 8] for i in b) == sorted(
      i for b in plain[w : w + 8] for i in b
    )
    spans = sorted((lengths[b].min(), lengths[b].max()) for b in grouped[w : w + 8])
    assert all(hi <= next_lo for (_, hi), (next_lo, _) in itertools.pairwise(spans))
  assert sorted(i for b in grouped[:24] for i in b) == list(range(96))
  assert sum(lengths[b].max() for b in grouped) < 0.8 * sum(lengths[b].max() for b in plain)
  # The window's batches come in a shuffled order, not shortest first.
  assert [lengths[b].max() for b in grouped[:8]] != sorted(lengths[b].max() for b in grouped[:8])
  assert [b.tolist() for b in stream(8)[0]] == grouped  # Deterministic from the seed.
  it = iter(ds)
  for _ in range(11):
    next(it)
  resumed = iter(ds)
  resumed.set_state(it.get_state())
  assert [b.tolist() for b in resumed] == grouped[11:]
  # max_steps cuts the same run rather than grouping a shorter one.
  assert [b.tolist() for b in stream(8, max_steps=13)[0]] == grouped[:13]
  with pytest.raises(ValueError, match="group_by_length needs the lengths of all 96"):
    stream(8, lengths=None)
  # A window longer than an epoch (24 batches) shrinks to one: no batch repeats an example.
  assert all(len(set(b)) == 4 for b in stream(40)[0])
  assert [b.tolist() for b in stream(24)[0]] == [b.tolist() for b in stream(40)[0]]
