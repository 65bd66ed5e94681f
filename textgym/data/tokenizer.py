"""Word-level tokenizers built from the environments' own text, for models trained from scratch.

No tokenizer can be downloaded here, and a text game's language is small: ScienceWorld's action
templates, object names and observations make a few thousand words. A word-level vocabulary
keeps sequences short (a command is 3-8 tokens) so small models train in minutes on a CPU, and
every command made of known words decodes back to exactly itself. The result is a
`transformers.PreTrainedTokenizerFast`, saved and loaded with `save_pretrained` /
`from_pretrained` like any Hugging Face tokenizer.

    >>> tok = build_word_tokenizer(["open door to kitchen", "go to kitchen", "focus on water"])
    >>> ids = tok("go to kitchen")["input_ids"]
    >>> tok.decode(ids, skip_special_tokens=True)
    'go to kitchen'
    >>> tok.convert_ids_to_tokens(tok("Go to the moon!")["input_ids"])
    ['go', 'to', '<unk>', '<unk>', '<unk>', '</s>']
"""

from __future__ import annotations

import collections
import re
from collections.abc import Iterable, Sequence

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast

PAD, UNK, BOS, EOS, SEP = "<pad>", "<unk>", "<s>", "</s>", "<sep>"
SPECIAL_TOKENS = (PAD, UNK, BOS, EOS, SEP)
_WORD = re.compile(r"\w+|[^\w\s]")


def words(text: str) -> list[str]:
    """How the tokenizer splits text: lower-cased words and single punctuation marks."""
    return _WORD.findall(text.lower())


def build_word_tokenizer(texts: Iterable[str], *, min_frequency: int = 1, max_vocab: int | None = None,
                         extra_special_tokens: Sequence[str] = (), add_eos: bool = True,
                         model_max_length: int = 1024) -> PreTrainedTokenizerFast:
    """A word-level tokenizer over the words of `texts`.

    Args:
        texts: the corpus (observations, commands, task descriptions, action templates...).
        min_frequency: drop words seen fewer times (they become `<unk>`).
        max_vocab: keep only the most frequent words (special tokens come on top).
        extra_special_tokens: more tokens kept whole (e.g. `"<extra_id_0>"`, `"[END_SG]"`).
        add_eos: append `</s>` to every encoded text (what seq2seq targets need).
        model_max_length: the longest input a model will see (longer inputs are cut when asked).
    """
    counts = collections.Counter(word for text in texts for word in words(text))
    specials = list(dict.fromkeys((*SPECIAL_TOKENS, *extra_special_tokens)))
    kept = [w for w, c in counts.most_common(max_vocab) if c >= min_frequency and w not in specials]
    if not kept:
        raise ValueError("The corpus has no words: build the tokenizer from real texts.")
    vocab = {token: index for index, token in enumerate([*specials, *kept])}
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Split(Regex(_WORD.pattern), behavior="isolated")])
    tokenizer.decoder = decoders.WordPiece(prefix="##", cleanup=False)  # joins words with spaces
    if add_eos:
        tokenizer.post_processor = processors.TemplateProcessing(
            single=f"$A {EOS}", pair=f"$A {SEP} $B {EOS}",
            special_tokens=[(EOS, vocab[EOS]), (SEP, vocab[SEP])])
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, pad_token=PAD, unk_token=UNK, bos_token=BOS, eos_token=EOS,
        sep_token=SEP, additional_special_tokens=[t for t in specials if t not in SPECIAL_TOKENS],
        model_max_length=model_max_length, padding_side="right", truncation_side="left")
