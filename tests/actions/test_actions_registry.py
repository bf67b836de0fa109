"""The action server starts: rasa-sdk registers every concrete action of the `actions` package, and each
action and form validator the domain names exists exactly once."""
from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import actions
from rasa_sdk import Action
from rasa_sdk.executor import ActionExecutor
from rasa_sdk.forms import FormValidationAction

RASA_BUILT_IN = {"action_listen", "action_restart", "action_default_fallback", "action_deactivate_loop",
                 "action_revert_fallback_events", "action_default_ask_affirmation", "action_default_ask_rephrase",
                 "action_two_stage_fallback", "action_back", "action_unlikely_intent", "action_extract_slots"}


def test_every_domain_action_is_served(domain):
    executor = ActionExecutor()
    executor.register_package("actions")  # what `rasa run actions --actions actions` does
    served = set(executor.actions)
    assert "" not in served
    custom = {a for a in domain["actions"] if not a.startswith("utter_")} - RASA_BUILT_IN
    assert custom - served == set(), "declared in the domain but not served"
    validators = {f"validate_{form}" for form in domain["forms"]}
    assert validators <= served
    assert len(domain["actions"]) == len(set(domain["actions"])), "an action is declared twice"


def _uses_domain(cls: type) -> bool:
    """Whether the action's run (or submit) body mentions its `domain` argument."""
    for method in ("run", "submit"):
        function = getattr(cls, method, None)
        if function is None:
            continue
        lines = inspect.getsource(function).splitlines()
        signature_end = next(i for i, line in enumerate(lines) if line.rstrip().endswith(":"))
        if re.search(r"\bdomain\b", "\n".join(lines[signature_end + 1:])):
            return True
    return False


def _concrete_actions() -> list:
    for module in pkgutil.iter_modules(actions.__path__):
        importlib.import_module(f"actions.{module.name}")
    found, pending = [], list(Action.__subclasses__())
    while pending:
        cls = pending.pop()
        pending += cls.__subclasses__()
        if cls.__module__.startswith("actions.") and not inspect.isabstract(cls):
            found.append(cls)
    return found


def test_actions_that_use_the_domain_receive_it(domain):
    """endpoints.yml enables Rasa's selective domain: only actions declared `send_domain: true` (and form
    validators) get the domain. Every action whose code reads it must be declared so; the others must not, as
    sending the whole domain costs tens of milliseconds per call."""
    uses = {cls().name() for cls in _concrete_actions()
            if not issubclass(cls, FormValidationAction) and _uses_domain(cls)}
    assert uses, "the check found no action at all?"
    assert uses - set(domain["send_domain"]) == set(), "uses the domain but does not receive it"
    assert set(domain["send_domain"]) - uses == set(), "receives the domain without using it"


RENDERERS = ("utter_in", "render_response")


def _rendering_helpers(module) -> dict:
    """The module's own functions that render a domain response (call utter_in / render_response), by name, with
    the renderers themselves: the names whose call renders a response."""
    names = {}
    for name, function in inspect.getmembers(module, inspect.isfunction):
        if function.__module__ != module.__name__ or name in RENDERERS:
            continue
        if re.search(rf"\b(?:{'|'.join(RENDERERS)})\(", inspect.getsource(function)):
            names[name] = function
    return names


def _calls(source: str, names) -> int:
    return sum(len(re.findall(rf"(?<![\w.])(?<!def ){re.escape(name)}\(", source)) for name in names)


def _action_source(cls: type) -> str:
    return "\n".join(inspect.getsource(getattr(cls, m)) for m in ("run", "submit") if hasattr(cls, m))


def _renders_responses(cls: type) -> bool:
    """Whether the action renders a domain response itself (actions/profile.py utter_in / render_response), directly
    or through a function of its module that does (profile.change_language)."""
    module = importlib.import_module(cls.__module__)
    source = _action_source(cls)
    return bool(_calls(source, (*RENDERERS, *_rendering_helpers(module))) or re.search(r"[\"']responses[\"']", source))


def test_actions_that_render_responses_receive_the_domains_responses():
    """endpoints.yml `domain_responses_for`: every other action gets the domain without its responses
    (bot/rasa_speedups.py), so each action that renders one itself must be listed, and only those."""
    import yaml
    from pathlib import Path

    endpoints = yaml.safe_load((Path(actions.__file__).parents[1] / "endpoints.yml").read_text())
    listed = set(endpoints["action_endpoint"]["domain_responses_for"])
    renders = {cls().name() for cls in _concrete_actions() if _renders_responses(cls)}
    assert renders == listed
    production = yaml.safe_load((Path(actions.__file__).parents[1] / "deploy" / "files" / "rasa-endpoints.yml")
                                .read_text())
    assert set(production["action_endpoint"]["domain_responses_for"]) == listed  # the production profile's too
    # The renderers and the helpers that use them are called from those actions' own code (or from each other)
    # only: no other path reaches the domain's responses.
    for info in pkgutil.iter_modules(actions.__path__):
        module = importlib.import_module(f"actions.{info.name}")
        helpers = _rendering_helpers(module)
        names = (*RENDERERS, *helpers)
        everywhere = _calls(inspect.getsource(module), names)
        inside_renderers = sum(_calls(inspect.getsource(getattr(module, name)), names)
                               for name in (*RENDERERS, *helpers) if hasattr(module, name)
                               and getattr(module, name).__module__ == module.__name__)
        in_listed = sum(_calls(_action_source(cls), names) for cls in _concrete_actions()
                        if cls.__module__ == module.__name__ and cls().name() in listed)
        assert everywhere - inside_renderers == in_listed, f"actions/{info.name}.py"
