"""Every setting the code reads is given by the deployment (Kubernetes manifests and compose.yaml), to the process
that reads it. The list is derived from the code, not written here: the backend's pydantic Settings fields, every
environment read in backend/, knowledge_index/, actions/ and bot/ (os.environ / os.getenv, and the helpers that
pass their argument on to them, found by following the calls), the ${VAR}s of Rasa's production endpoints and the
variables the repository's start scripts export. A setting X given as the file X_FILE counts (keys are files)."""
from __future__ import annotations

import ast
import re
import shlex
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import pytest

from deploy_manifests import DEPLOY, REPO, compose_environment, container_environment, find

ENV_NAME = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$")
ENVIRON_METHODS = {"get", "setdefault", "pop"}

# Settings the code reads that a deployment leaves unset on purpose, each with why. Nothing else may be missing.
NOT_SET = {
    "DEMO_PASSWORD": "read by `python -m backend.seed` only, to seed demo users: a deployment seeds none",
    "XDG_CACHE_HOME": "read only when KNOWLEDGE_ENCODER_CACHE is unset; it is set (the index volume)",
    "OMP_NUM_THREADS": "torch's threads, in the release job's index build only; unset, the code takes a share of the cores",
    "BACKEND_PORT": "the Procfile's port; containers listen on fixed ports named in their commands (8000)",
    "RASA_PORT": "the Procfile's port; Rasa listens on 5005 (its command)",
    "ACTION_PORT": "the Procfile's port; the action server listens on 5055 (its command)",
}


def _is_environ(node: ast.AST) -> bool:
    """`os.environ`, or a name/attribute called environ (bot/serve.py reads a copy passed as `environ`)."""
    return (isinstance(node, ast.Attribute) and node.attr == "environ") or (
        isinstance(node, ast.Name) and node.id == "environ")


def _callee(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def _named_variables(node: ast.AST, readers: dict[str, tuple[int, frozenset[str]]]
                     ) -> Iterable[tuple[ast.AST, frozenset[str]]]:
    """The expressions that name an environment variable read at this node, each with the suffixes appended to it
    for the variables actually read ("" for the name itself)."""
    itself = frozenset({""})
    if isinstance(node, ast.Call) and node.args:
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in ENVIRON_METHODS and _is_environ(func.value):
            yield node.args[0], itself
        elif isinstance(func, ast.Attribute) and func.attr == "getenv":
            yield node.args[0], itself
        elif _callee(node) in readers and len(node.args) > readers[_callee(node)][0]:
            index, suffixes = readers[_callee(node)]
            yield node.args[index], suffixes
    elif isinstance(node, ast.Subscript) and _is_environ(node.value):
        yield node.slice, itself
    elif isinstance(node, ast.Compare) and any(_is_environ(c) for c in node.comparators):
        yield node.left, itself


def _parameter_named(expression: ast.AST, parameters: list[str]) -> tuple[str, str] | None:
    """The parameter an expression passes on and what it appends: `name` -> (name, ""), f"{name}_FILE" ->
    (name, "_FILE")."""
    suffix = ""
    if isinstance(expression, ast.JoinedStr) and expression.values:
        rest = expression.values[1:]
        if not all(isinstance(part, ast.Constant) for part in rest):
            return None
        suffix = "".join(part.value for part in rest)
        expression = expression.values[0]
        expression = expression.value if isinstance(expression, ast.FormattedValue) else expression
    if isinstance(expression, ast.Name) and expression.id in parameters:
        return expression.id, suffix
    return None


@lru_cache(maxsize=None)
def environment_reads(*directories: Path) -> frozenset[str]:
    trees = [ast.parse(path.read_text(encoding="utf-8"), str(path))
             for directory in directories for path in sorted(directory.rglob("*.py"))]
    # Helpers that read the variable their argument names (`_env(name)`, `_secret(name)`, then `setting(key, env,
    # default)` calling `_env(env)`...) and the names they make of it (`env_secret(name)` also reads f"{name}_FILE"):
    # function name -> (index of that argument, suffixes read), until nothing new is found.
    readers: dict[str, tuple[int, frozenset[str]]] = {}
    while True:
        before = dict(readers)
        for tree in trees:
            for function in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
                parameters = [a.arg for a in function.args.args]
                for node in ast.walk(function):
                    for expression, suffixes in _named_variables(node, readers):
                        named = _parameter_named(expression, parameters)
                        if named:
                            index, known = readers.get(function.name, (parameters.index(named[0]), frozenset()))
                            if index == parameters.index(named[0]):
                                readers[function.name] = (index, known | {named[1] + s for s in suffixes})
        if readers == before:
            break
    names: set[str] = set()
    for tree in trees:
        constants = {t.id: n.value.value for n in tree.body if isinstance(n, ast.Assign)
                     and isinstance(n.value, ast.Constant) and isinstance(n.value.value, str)
                     for t in n.targets if isinstance(t, ast.Name)}
        for node in ast.walk(tree):
            for expression, suffixes in _named_variables(node, readers):
                value = expression.value if isinstance(expression, ast.Constant) else \
                    constants.get(expression.id) if isinstance(expression, ast.Name) else None
                if isinstance(value, str) and ENV_NAME.match(value):
                    names |= {value + suffix for suffix in suffixes}
    return frozenset(names)


def settings_fields() -> set[str]:
    """The backend's Settings fields, as the environment variables pydantic-settings reads them."""
    tree = ast.parse((REPO / "backend" / "core" / "config.py").read_text())
    (settings,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Settings"]
    return {n.target.id.upper() for n in settings.body
            if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name) and n.target.id != "model_config"}


def exported(script: Path) -> set[str]:
    """The variables a shell script exports (`export A=1 B="$C"`, one or more per line)."""
    names: set[str] = set()
    for line in script.read_text().splitlines():
        if line.strip().startswith("export "):
            names |= {word.split("=", 1)[0] for word in shlex.split(line, comments=True)[1:] if "=" in word}
    return names


def placeholders(path: Path) -> set[str]:
    """The ${VAR}s of a YAML file's values (comments left out)."""
    text = "\n".join(line.split("#", 1)[0] for line in path.read_text().splitlines())
    return set(re.findall(r"\$\{([A-Z][A-Z0-9_]+)\}", text))


READ_BY = {
    "backend": lambda: settings_fields() | environment_reads(REPO / "backend", REPO / "knowledge_index"),
    "actions": lambda: environment_reads(REPO / "actions"),
    "rasa": lambda: environment_reads(REPO / "bot") | exported(REPO / "scripts" / "run_rasa.sh")
    | placeholders(DEPLOY / "files" / "rasa-endpoints.yml"),
}


def test_the_code_reading_is_found():
    """The derivation finds reads of every kind, so that an empty list cannot pass for a complete deployment."""
    assert {"DATABASE_URL", "SECRET_KEY", "SECRET_KEY_FILE", "KNOWLEDGE_INDEX_VERSION", "CHANNEL_KEY_FILE"} \
        <= READ_BY["backend"]()
    assert {"KNOWLEDGE_ENCODER_CACHE", "XDG_CACHE_HOME", "OMP_NUM_THREADS", "HF_HUB_OFFLINE"} <= READ_BY["backend"]()
    assert {"BACKEND_URL", "BACKEND_PUBLIC_URL", "ASSISTANT_KEY", "ASSISTANT_KEY_FILE",  # env_secret(name): name, name_FILE
            "NLU_KEY", "NLU_KEY_FILE"} <= READ_BY["actions"]()
    assert {"RASA_API_TOKEN", "CHAT_ALLOWED_ORIGINS",  # environ.get in bot/serve.py, os.environ.get in bot/identity.py
            "TEAMS_APP_PASSWORD", "CHANNEL_KEY",  # _secret(name) in bot/channels/teams.py
            "TEAMS_APP_ID", "VOICE_PUBLIC_URL", "VOICE_SUPPORT_NUMBER",  # setting(key, env, default) -> _env(env)
            "TWILIO_AUTH_TOKEN", "CHAT_SESSIONS_REDIS_URL", "SANIC_WORKERS", "RASA_DB_PASSWORD", "REDIS_PASSWORD",
            } <= READ_BY["rasa"]()


def missing(read: set[str], given: set[str]) -> set[str]:
    return {name for name in read - set(NOT_SET) if name not in given and f"{name}_FILE" not in given}


@pytest.mark.parametrize("component", sorted(READ_BY))
def test_kubernetes_gives_every_setting_to_the_process_that_reads_it(component):
    env = container_environment(find("Deployment", component), component)
    assert missing(READ_BY[component](), env.names) == set()


@pytest.mark.parametrize("component", sorted(READ_BY))
def test_compose_gives_every_setting_to_the_process_that_reads_it(component):
    assert missing(READ_BY[component](), compose_environment(component).names) == set()


@pytest.mark.parametrize("workload, container", [("Job/portal-release", "migrate"),
                                                 ("Job/portal-release", "publish-knowledge"),
                                                 ("Deployment/backend", "wait-for-release")])
def test_the_backends_release_steps_see_the_backends_settings(workload, container):
    kind, name = workload.split("/")
    backend = container_environment(find("Deployment", "backend"), "backend")
    step = container_environment(find(kind, name), container)
    assert {"DATABASE_URL", "KNOWLEDGE_INDEX_DIR", "KNOWLEDGE_INDEX_VERSION", "KNOWLEDGE_ENCODER_CACHE"} <= step.names
    assert {k: step.values[k] for k in step.values if k in backend.values} == \
        {k: backend.values[k] for k in step.values if k in backend.values}


def test_every_variable_the_start_scripts_export_is_given_somewhere():
    """scripts/env.sh is `make run`'s configuration of every service: each of its settings has its deployment value."""
    given: set[str] = set()
    for component in READ_BY:
        given |= container_environment(find("Deployment", component), component).names
    assert missing(exported(REPO / "scripts" / "env.sh"), given) == set()


@pytest.mark.parametrize("component", sorted(READ_BY))
def test_every_file_setting_names_a_mounted_secret(component):
    """A *_FILE setting points at a file the container has: a key of a mounted Secret."""
    for env in (container_environment(find("Deployment", component), component), compose_environment(component)):
        for name in (n for n in env.names if n.endswith("_FILE")):
            assert env.values[name] in env.secret_files, (component, name, env.values[name])


def test_no_secret_is_a_plain_value():
    """Passwords, tokens and keys come from Secrets (or files), never from a ConfigMap or a literal in a manifest."""
    secret_like = re.compile(r"(PASSWORD|TOKEN|SECRET|_KEY)$")
    for component in READ_BY:
        env = container_environment(find("Deployment", component), component)
        assert not {n for n in env.values if secret_like.search(n)}, component
        compose_env = compose_environment(component)
        for name in (n for n in compose_env.values if secret_like.search(n)):
            assert compose_env.values[name].startswith("${"), (component, name)  # from deploy/.env, not the file


def test_the_conversation_retention_job_gets_what_the_prune_command_reads():
    """bot/conversation_store.py's own reads and the ${VAR}s of the endpoints file's tracker_store section (the only
    section it reads), given to the CronJob's container and to compose's daily service."""
    import yaml

    source = REPO / "bot" / "conversation_store.py"
    reads = {n for n in environment_reads(source.parent) if n in source.read_text()}
    section = yaml.dump(yaml.load((DEPLOY / "files" / "rasa-endpoints.yml").read_text(),
                                  Loader=yaml.BaseLoader)["tracker_store"])
    needed = reads | set(re.findall(r"\$\{([A-Z][A-Z0-9_]+)\}", section))
    assert {"CONVERSATION_RETENTION_DAYS", "RASA_DB_HOST", "RASA_DB_PASSWORD"} <= needed
    cron = container_environment(find("CronJob", "conversation-retention"), "prune")
    assert missing(needed, cron.names) == set()
    assert missing(needed, compose_environment("conversation-retention").names) == set()
    assert cron.values["CONVERSATION_RETENTION_DAYS"] == \
        container_environment(find("Deployment", "rasa"), "rasa").values["CONVERSATION_RETENTION_DAYS"]
