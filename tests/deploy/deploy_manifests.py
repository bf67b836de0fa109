"""Reading the deployment's files for the tests: the Kubernetes objects kustomization.yaml lists, the compose file,
and what environment each container of theirs gets."""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
KUBERNETES_VERSION = "1.30"


def kustomization() -> dict[str, Any]:
    return yaml.safe_load((K8S / "kustomization.yaml").read_text())


def objects() -> list[dict[str, Any]]:
    """Every object the deployment applies, in kustomization.yaml's order (secrets.example.yaml aside); a copy the
    caller may change."""
    return copy.deepcopy(_objects())


@lru_cache(maxsize=1)
def _objects() -> list[dict[str, Any]]:
    found = []
    for name in kustomization()["resources"]:
        found += [doc for doc in yaml.safe_load_all((K8S / name).read_text()) if doc]
    return found


def secret_templates() -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all((K8S / "secrets.example.yaml").read_text()) if doc]


def find(kind: str, name: str) -> dict[str, Any]:
    (match,) = [o for o in objects() if o["kind"] == kind and o["metadata"]["name"] == name]
    return match


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    if workload["kind"] == "CronJob":
        return workload["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return workload["spec"]["template"]["spec"]


@dataclass
class Environment:
    """What one container gets: variable names, and the files mounted from Secrets (path -> (secret, key))."""

    names: set[str] = field(default_factory=set)
    values: dict[str, str] = field(default_factory=dict)  # literal values (ConfigMaps, env `value`s)
    secret_files: dict[str, tuple[str, str]] = field(default_factory=dict)


def container_environment(workload: dict[str, Any], container: str) -> Environment:
    spec = pod_spec(workload)
    (entry,) = [c for c in spec.get("containers", []) + spec.get("initContainers", []) if c["name"] == container]
    config_maps = {o["metadata"]["name"]: o.get("data", {}) for o in objects() if o["kind"] == "ConfigMap"}
    env = Environment()
    for source in entry.get("envFrom", []):
        data = config_maps[source["configMapRef"]["name"]]
        env.names |= set(data)
        env.values.update(data)
    for variable in entry.get("env", []):
        env.names.add(variable["name"])
        if "value" in variable:
            env.values[variable["name"]] = variable["value"]
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    for mount in entry.get("volumeMounts", []):
        secret = volumes.get(mount["name"], {}).get("secret")  # a volumeClaimTemplate is no secret
        if secret is None:
            continue
        keys = [item["key"] for item in secret["items"]] if "items" in secret else secret_keys(secret["secretName"])
        for key in keys:
            env.secret_files[f"{mount['mountPath']}/{key}"] = (secret["secretName"], key)
    return env


def secret_keys(name: str) -> list[str]:
    (secret,) = [s for s in secret_templates() if s["metadata"]["name"] == name]
    return list(secret["stringData"])


def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def compose_environment(service: str) -> Environment:
    definition = compose()["services"][service]
    env = Environment()
    environment = definition.get("environment", {})
    env.names |= set(environment)
    env.values.update({k: str(v) for k, v in environment.items()})
    for secret in definition.get("secrets", []):
        env.secret_files[f"/run/secrets/{secret}"] = ("compose", secret)
    return env
