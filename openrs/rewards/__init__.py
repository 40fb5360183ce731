"""Reward registry for GRPO training with TRL.

``get_reward(name, **params)`` returns a callable with TRL's reward signature
``(completions, **kwargs) -> list[float | None]`` whose ``__name__`` is the reward name (TRL derives metric names such
as ``rewards/accuracy/mean`` from it). Parameters are validated when ``get_reward`` is called, not at first use.

Registered rewards (see each module for formula, params, defaults and source):

* ``accuracy`` -- :mod:`openrs.rewards.accuracy`
* ``format`` / ``format_strict`` -- :mod:`openrs.rewards.format`
* ``cosine`` -- :mod:`openrs.rewards.cosine`
* ``length`` -- :mod:`openrs.rewards.length`
* ``tag_count`` -- :mod:`openrs.rewards.tag_count`
* ``repetition_penalty`` -- :mod:`openrs.rewards.repetition`
* ``language`` -- :mod:`openrs.rewards.language`
* ``overlong`` -- :mod:`openrs.rewards.overlong`

The correctness rewards (``accuracy``, ``cosine``, ``length``) judge answers in worker processes under a per-item
time limit (:mod:`openrs.rewards.verify_pool`) and report their metrics as described in
:mod:`openrs.rewards.correctness`. ``docs/REWARDS.md`` has the overview.

A user-defined reward can be loaded by import path, ``get_reward("my_pkg.my_module:my_reward", alpha=0.1)``; params
are bound like :func:`functools.partial` and ``__name__`` stays the function's name.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from openrs.rewards.accuracy import accuracy_reward, validate_accuracy_params
from openrs.rewards.cosine import cosine_reward, validate_cosine_params
from openrs.rewards.format import format_reward, format_strict_reward
from openrs.rewards.guard import RewardError, call_guarded, check_output, where
from openrs.rewards.language import language_reward, validate_language_params
from openrs.rewards.length import length_reward, validate_length_params
from openrs.rewards.overlong import overlong_reward, validate_overlong_params
from openrs.rewards.repetition import repetition_penalty_reward, validate_repetition_penalty_params
from openrs.rewards.tag_count import tag_count_reward, validate_tag_count_params

__all__ = ["CORRECTNESS_REWARDS", "AsyncRewardFunction", "RewardFunction", "available_rewards", "get_reward"]

RewardCallable = Callable[..., list[float | None]]

#: kwargs TRL passes to every reward; they cannot be bound as reward params.
RESERVED_KWARGS = frozenset({"completions", "prompts", "completion_ids", "trainer_state", "log_metric", "log_extra"})


class RewardFunction:
    """A reward function with bound params, named for TRL (``__name__``) and picklable.

    Calls ``func(completions=..., **kwargs, **params)`` -- all by keyword, as TRL does; bound params win over kwargs.
    What it returns is checked on every call (:mod:`openrs.rewards.guard`); a user-defined reward (``user``) also
    has its exceptions named and runs under ``time_limit_s``.
    """

    def __init__(
        self, name: str, func: Callable[..., Any], params: Mapping[str, Any] | None = None, user: bool = False
    ) -> None:
        self.__name__ = name
        self.__qualname__ = name
        self.__doc__ = getattr(func, "__doc__", None)
        self.func = func
        self.params = dict(params or {})
        self.user = user
        self.time_limit_s: float | None = None

    def __call__(self, completions: list[Any], **kwargs: Any) -> list[float | None]:
        call = {**kwargs, **self.params, "completions": completions}
        if self.user:
            output = call_guarded(self.__name__, self.func, self.time_limit_s, call)
        else:
            output = self.func(**call)
        check_output(self.__name__, output, len(completions), kwargs)
        return output

    def __repr__(self) -> str:
        params = ", ".join(f"{key}={value!r}" for key, value in self.params.items())
        return f"<reward {self.__name__}({params})>"


class AsyncRewardFunction(RewardFunction):
    """:class:`RewardFunction` for ``async`` user rewards, so TRL still detects and awaits them."""

    async def __call__(self, completions: list[Any], **kwargs: Any) -> list[float | None]:
        try:
            call = self.func(completions=completions, **{**kwargs, **self.params})
            output = await asyncio.wait_for(call, self.time_limit_s)
        except TimeoutError as err:
            raise RewardError(f"{where(self.__name__, kwargs)} did not return within reward.time_limit_s="
                              f"{self.time_limit_s} s; fix the reward or raise the limit.") from err  # fmt: skip
        except Exception as err:
            raise RewardError(f"{where(self.__name__, kwargs)} raised {type(err).__name__}: {err}") from err
        check_output(self.__name__, output, len(completions), kwargs)
        return output


@dataclass(frozen=True)
class _RewardSpec:
    func: Callable[..., list[float | None]]
    validate: Callable[[Mapping[str, Any]], None] | None = None

    def param_names(self) -> list[str]:
        signature = inspect.signature(self.func)
        return [p.name for p in signature.parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY]


_REGISTRY: dict[str, _RewardSpec] = {
    "accuracy": _RewardSpec(accuracy_reward, validate_accuracy_params),
    "format": _RewardSpec(format_reward),
    "format_strict": _RewardSpec(format_strict_reward),
    "cosine": _RewardSpec(cosine_reward, validate_cosine_params),
    "length": _RewardSpec(length_reward, validate_length_params),
    "tag_count": _RewardSpec(tag_count_reward, validate_tag_count_params),
    "repetition_penalty": _RewardSpec(repetition_penalty_reward, validate_repetition_penalty_params),
    "language": _RewardSpec(language_reward, validate_language_params),
    "overlong": _RewardSpec(overlong_reward, validate_overlong_params),
}


#: The registered rewards that judge correctness (openrs.rewards.correctness): what dynamic sampling filters on.
CORRECTNESS_REWARDS = ("accuracy", "cosine", "length")


def available_rewards() -> list[str]:
    """Names accepted by :func:`get_reward` (besides ``"module.path:function"`` import paths)."""
    return sorted(_REGISTRY)


def _check_reserved(name: str, params: Mapping[str, Any]) -> None:
    reserved = sorted(RESERVED_KWARGS.intersection(params))
    if reserved:
        raise ValueError(f"Reward '{name}': parameter(s) {reserved} are passed by the trainer and cannot be bound")


def _get_builtin(name: str, params: Mapping[str, Any]) -> RewardFunction:
    spec = _REGISTRY[name]
    _check_reserved(name, params)
    accepted = spec.param_names()
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise TypeError(
            f"Unknown parameter(s) {unknown} for reward '{name}'. "
            f"Accepted parameters: {accepted if accepted else 'none'}."
        )
    if spec.validate is not None:
        spec.validate(params)
    return RewardFunction(name, spec.func, params)


def _resolve_import_path(path: str) -> Callable[..., Any]:
    module_name, _, attr_path = path.partition(":")
    if not module_name or not attr_path:
        raise ValueError(f"Invalid reward import path {path!r}: expected 'package.module:function'")
    try:
        obj: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name != module_name and not module_name.startswith(f"{exc.name}."):
            raise ValueError(
                f"Reward {path!r}: importing {module_name!r} failed: it imports {exc.name!r}, which is not installed "
                f"here. pip install it (or remove that import)."
            ) from exc
        raise ValueError(
            f"Reward {path!r}: no module named {exc.name!r}. Run from the folder that holds it, add that folder to "
            "PYTHONPATH, or pip install its package."
        ) from exc
    except Exception as exc:  # the module itself fails: a syntax error, a failing import inside it, ...
        raise ValueError(f"Reward {path!r}: importing {module_name!r} failed: {type(exc).__name__}: {exc}") from exc
    for attr in attr_path.split("."):
        try:
            obj = getattr(obj, attr)
        except AttributeError as exc:
            raise ValueError(f"Reward {path!r}: {module_name!r} has no attribute {attr_path!r}") from exc
    if inspect.isclass(obj) or not callable(obj):
        raise TypeError(f"Reward {path!r} must resolve to a function or callable object, got {obj!r}")
    return obj


def _check_signature(func: Callable[..., Any], name: str, path: str, params: Mapping[str, Any]) -> None:
    """The reward takes TRL's keywords (**kwargs), and each bound param is one of its named parameters."""
    try:
        parameters = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature: cannot check eagerly
        return
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        raise TypeError(
            f"Reward '{name}' ({path}) takes no **kwargs: TRL passes prompts, completions, completion_ids, "
            "trainer_state, log_metric, log_extra and every dataset column (e.g. solution) by keyword. Add **kwargs "
            "to its parameters."
        )
    named = [p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    unknown = sorted(set(params) - set(named))
    if unknown:
        raise TypeError(
            f"Reward '{name}' ({path}) has no parameter(s) {unknown}: they would vanish into its **kwargs. Its "
            f"parameters: {[p for p in named if p != 'completions'] or 'none'}."
        )


def _get_from_import_path(path: str, params: Mapping[str, Any]) -> RewardFunction:
    func = _resolve_import_path(path)
    name = getattr(func, "__name__", type(func).__name__)
    _check_reserved(name, params)
    _check_signature(func, name, path, params)
    is_async = inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(type(func).__call__)
    wrapper_cls = AsyncRewardFunction if is_async else RewardFunction
    return wrapper_cls(name, func, params, user=True)


def get_reward(name: str, **params: Any) -> RewardFunction:
    """Build a TRL reward callable by registered ``name`` or ``"module.path:function"``, binding ``params``.

    Raises:
        ValueError: unknown name (message lists the available ones) or invalid param value.
        TypeError: param not accepted by the reward.
    """
    if not isinstance(name, str):
        raise TypeError(f"Reward name must be a string, got {type(name).__name__}")
    if name in _REGISTRY:
        return _get_builtin(name, params)
    if ":" in name:
        return _get_from_import_path(name, params)
    raise ValueError(
        f"Unknown reward {name!r}. Available rewards: {available_rewards()} "
        "(or a user-defined reward as 'package.module:function')."
    )
