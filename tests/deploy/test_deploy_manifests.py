"""deploy/k8s: valid against the Kubernetes schema of KUBERNETES_VERSION (kubernetes-validate, offline), complete
(probes on the real health endpoints, resources, disruption budgets, Rasa's autoscaler, every Secret and ConfigMap
they name), in step with the code (the corpus's index version, deploy/files/)."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from deploy_manifests import (
    DEPLOY, K8S, KUBERNETES_VERSION, REPO, container_environment, find, kustomization, objects, pod_spec,
    secret_templates,
)

WORKLOADS = ("Deployment", "StatefulSet", "Job", "CronJob")
SERVED = ("backend", "rasa", "actions")


def names(kind: str) -> set[str]:
    return {o["metadata"]["name"] for o in objects() if o["kind"] == kind}


def all_containers(workload: dict) -> list[dict]:
    spec = pod_spec(workload)
    return spec.get("initContainers", []) + spec["containers"]


@pytest.mark.parametrize("document", objects() + secret_templates(),
                         ids=lambda o: f"{o['kind']}/{o['metadata']['name']}")
def test_every_object_is_valid_for_kubernetes(document):
    kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)  # strict: no unknown field either


def test_the_validation_catches_a_mistake():
    deployment = find("Deployment", "backend")
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessprobe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_kustomization_lists_every_manifest_and_nothing_else():
    manifests = sorted(p.name for p in K8S.glob("*.yaml") if p.name[:2].isdigit())
    assert kustomization()["resources"] == manifests
    assert all(o["metadata"].get("namespace") == "portal" for o in objects() if o["kind"] != "Namespace")
    images = {c["image"].rsplit(":", 1)[0] for o in objects() if o["kind"] in WORKLOADS for c in all_containers(o)}
    ours = {i["name"] for i in kustomization()["images"]}
    assert ours <= images and all(":" in c["image"] for o in objects() if o["kind"] in WORKLOADS
                                  for c in all_containers(o))


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
def test_kubectl_kustomize_renders_the_same_objects():
    rendered = subprocess.run(["kubectl", "kustomize", str(K8S)], capture_output=True, text=True, check=True).stdout
    keys = sorted((o["kind"], o["metadata"]["name"]) for o in yaml.safe_load_all(rendered) if o)
    assert keys == sorted((o["kind"], o["metadata"]["name"]) for o in objects())


def test_the_configmaps_hold_the_current_deploy_files():
    sys.path.insert(0, str(DEPLOY))
    from render_configmaps import TARGET, render

    assert TARGET.read_text() == render(), "run `python deploy/render_configmaps.py` after editing deploy/files/"


def test_the_backends_serve_the_index_version_of_the_repository_corpus():
    from knowledge_index import index_version

    version = index_version(REPO / "data" / "knowledge")
    configured = find("ConfigMap", "backend-config")["data"]["KNOWLEDGE_INDEX_VERSION"]
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["x-backend-env"]["KNOWLEDGE_INDEX_VERSION"]
    assert configured == compose == version, (
        f"the corpus is index version {version}: set KNOWLEDGE_INDEX_VERSION to it in deploy/k8s/10-config.yaml and "
        f"deploy/compose.yaml (`python -m knowledge_index version` prints it)")


PROBES = {  # the real health endpoints (tests/backend and tests/bot check that they answer as the probes expect)
    "backend": {"startupProbe": "/health/live", "readinessProbe": "/health/ready", "livenessProbe": "/health/live"},
    "rasa": {"startupProbe": "/webhooks/rest/", "readinessProbe": "/webhooks/rest/ready",
             "livenessProbe": "/webhooks/rest/"},
    "actions": {"readinessProbe": "/health", "livenessProbe": "/health"},
}


@pytest.mark.parametrize("name", SERVED)
def test_probes_use_the_real_health_endpoints(name):
    (container,) = pod_spec(find("Deployment", name))["containers"]
    probes = {kind: container[kind]["httpGet"]["path"] for kind in PROBES[name]}
    assert probes == PROBES[name]
    assert {"readinessProbe", "livenessProbe"} <= set(container)


@pytest.mark.parametrize("workload", [o for o in objects() if o["kind"] in ("Deployment", "StatefulSet")],
                         ids=lambda o: o["metadata"]["name"])
def test_every_long_running_container_has_probes_and_resources(workload):
    for container in pod_spec(workload)["containers"]:
        assert {"readinessProbe", "livenessProbe"} <= set(container), container["name"]
    for container in all_containers(workload):
        resources = container["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"]) and "memory" in resources["limits"], container["name"]


@pytest.mark.parametrize("name", SERVED + ("internal-lb",))
def test_replicated_services_have_a_disruption_budget(name):
    deployment = find("Deployment", name)
    assert deployment["spec"]["replicas"] >= 2
    budget = find("PodDisruptionBudget", name)
    assert budget["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    assert budget["spec"]["minAvailable"] < deployment["spec"]["replicas"]  # a node can still be drained


def test_rasa_scales_on_cpu():
    autoscaler = find("HorizontalPodAutoscaler", "rasa")
    assert autoscaler["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "rasa"}
    assert autoscaler["spec"]["minReplicas"] >= 2 and autoscaler["spec"]["maxReplicas"] > autoscaler["spec"]["minReplicas"]
    assert [m["resource"]["name"] for m in autoscaler["spec"]["metrics"]] == ["cpu"]
    (container,) = pod_spec(find("Deployment", "rasa"))["containers"]
    assert "cpu" in container["resources"]["requests"]  # utilisation is relative to it


def test_the_release_job_migrates_then_publishes_and_the_backends_wait_for_it():
    job = pod_spec(find("Job", "portal-release"))
    assert [c["command"] for c in job["initContainers"]] == [["python", "-m", "backend.release", "migrate"]]
    assert [c["command"] for c in job["containers"]] == [
        ["python", "-m", "backend.knowledge_admin", "import", "--expect-configured"]]
    backend = pod_spec(find("Deployment", "backend"))
    assert [c["command"][:4] for c in backend["initContainers"]] == [["python", "-m", "backend.release", "wait"]]
    # the index volume: written by the job only, read-only in the backends
    (job_mount,) = [m for m in job["containers"][0]["volumeMounts"] if m["name"] == "index"]
    assert not job_mount.get("readOnly")
    for container in all_containers(find("Deployment", "backend")):
        (mount,) = [m for m in container["volumeMounts"] if m["name"] == "index"]
        assert mount["readOnly"] is True
    images = {c["image"] for c in all_containers(find("Job", "portal-release")) + all_containers(find("Deployment", "backend"))}
    assert len(images) == 1  # one release: the job and the backends run the same image


def test_every_secret_and_configmap_named_exists_with_its_keys():
    templates = {s["metadata"]["name"]: set(s["stringData"]) for s in secret_templates()}
    config_maps = {o["metadata"]["name"]: set(o.get("data", {})) for o in objects() if o["kind"] == "ConfigMap"}
    used: set[tuple[str, str]] = set()
    for workload in (o for o in objects() if o["kind"] in WORKLOADS):
        spec = pod_spec(workload)
        for container in all_containers(workload):
            for variable in container.get("env", []):
                ref = variable.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["key"] in templates[ref["name"]], ref
                    used.add((ref["name"], ref["key"]))
            for source in container.get("envFrom", []):
                assert source["configMapRef"]["name"] in config_maps
        for volume in spec.get("volumes", []):
            if "secret" in volume:
                secret = volume["secret"]
                keys = [i["key"] for i in secret.get("items", [])] or sorted(templates[secret["secretName"]])
                assert set(keys) <= templates[secret["secretName"]], secret
                used |= {(secret["secretName"], key) for key in keys}
            if "configMap" in volume:
                assert volume["configMap"]["name"] in config_maps
    assert used == {(name, key) for name, keys in templates.items() for key in keys}  # no secret left unused


def test_secret_files_are_readable_by_the_pod_user_only():
    for workload in (o for o in objects() if o["kind"] in WORKLOADS):
        for volume in pod_spec(workload).get("volumes", []):
            if "secret" in volume:
                assert volume["secret"]["defaultMode"] == 0o440, workload["metadata"]["name"]


def test_new_secrets_fills_every_secret_with_fresh_values(tmp_path):
    script = K8S / "new-secrets.sh"
    first = subprocess.run(["bash", str(script)], capture_output=True, text=True, check=True,
                           env={"PATH": "/usr/bin:/bin", "TWILIO_AUTH_TOKEN": "twilio-token-1"}).stdout
    second = subprocess.run(["bash", str(script)], capture_output=True, text=True, check=True,
                            env={"PATH": "/usr/bin:/bin"}).stdout
    made = [d for d in yaml.safe_load_all(first) if d]
    assert [(d["metadata"]["name"], sorted(d["stringData"])) for d in made] == \
        [(d["metadata"]["name"], sorted(d["stringData"])) for d in secret_templates()]
    values = [v for d in made for v in d["stringData"].values()]
    assert "REPLACE-ME" not in first and len(set(values)) == len(values)
    assert {d["metadata"]["name"]: d["stringData"] for d in made}["channels"]["twilio-auth-token"] == "twilio-token-1"
    others = [v for d in yaml.safe_load_all(second) if d for v in d["stringData"].values()]
    assert not set(values) & set(others)
    for document in made:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_in_cluster_calls_go_through_the_per_request_balancer():
    urls = find("ConfigMap", "portal-urls")["data"]
    assert urls["BACKEND_URL"] == "http://internal-lb:8000"
    assert urls["ACTION_ENDPOINT_URL"] == "http://internal-lb:5055/webhook"
    balancer = "\n".join(line.split("#", 1)[0] for line in (DEPLOY / "files" / "haproxy.cfg").read_text().splitlines())
    assert "prefer-last-server" not in balancer and "balance roundrobin" in balancer  # each request on its own
    (container,) = pod_spec(find("Deployment", "internal-lb"))["containers"]
    pods = {v["name"]: v["value"] for v in container["env"]}
    for variable, service in (("BACKEND_PODS", "backend-pods"), ("ACTION_PODS", "actions-pods")):
        assert f'"${{{variable}}}:' in balancer
        assert pods[variable] == f"{service}.portal.svc.cluster.local"
        assert find("Service", service)["spec"]["clusterIP"] == "None"  # one DNS record per ready pod


def test_the_ingress_exposes_the_portal_and_the_channels_but_not_rasas_api():
    rules = {r["host"]: r["http"]["paths"] for r in find("Ingress", "portal")["spec"]["rules"]}
    portal, assistant = rules["portal.example.com"], rules["assistant.example.com"]
    assert [(p["path"], p["backend"]["service"]["name"]) for p in portal] == [("/", "backend")]
    assert sorted((p["path"], p["backend"]["service"]["name"]) for p in assistant) == [
        ("/socket.io/", "rasa"), ("/webhooks/", "rasa")]


def test_state_lives_in_postgresql_and_redis_with_their_own_volumes():
    for name in ("postgres", "redis"):
        statefulset = find("StatefulSet", name)
        assert statefulset["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
    redis_conf = (DEPLOY / "files" / "redis.conf").read_text().splitlines()
    assert "appendonly yes" in redis_conf and "protected-mode yes" in redis_conf
    (redis,) = pod_spec(find("StatefulSet", "redis"))["containers"]
    assert "requirepass" in redis["command"][-1] and "$REDIS_PASSWORD" in redis["command"][-1]
    rasa = container_environment(find("Deployment", "rasa"), "rasa")
    assert rasa.values["RASA_DB_HOST"] == "postgres" and rasa.values["REDIS_HOST"] == "redis"
    assert Path(DEPLOY / "files" / "postgres-init.sh").read_text().count("CREATE DATABASE") == 2


def test_the_restore_job_example_is_valid_and_uses_the_backups():
    (job,) = [d for d in yaml.safe_load_all((K8S / "restore-job.example.yaml").read_text()) if d]
    kubernetes_validate.validate(job, KUBERNETES_VERSION, strict=True)
    backup = pod_spec(find("CronJob", "postgres-backup"))
    restore = pod_spec(job)
    assert restore["containers"][0]["image"] == backup["containers"][0]["image"] == \
        pod_spec(find("StatefulSet", "postgres"))["containers"][0]["image"]  # pg_dump/pg_restore of the server's major
    assert restore["volumes"] == [
        {"name": "backups", "persistentVolumeClaim": {"claimName": "postgres-backups", "readOnly": True}},
        {"name": "scripts", "configMap": {"name": "postgres-backup"}}]
    assert restore["containers"][0]["command"][:2] == ["bash", "/opt/backup/postgres-restore.sh"]
    assert "postgres-restore.sh" in find("ConfigMap", "postgres-backup")["data"]


def test_the_cronjobs_never_overlap_and_are_bounded():
    for name in ("conversation-retention", "postgres-backup"):
        spec = find("CronJob", name)["spec"]
        assert spec["concurrencyPolicy"] == "Forbid" and spec["jobTemplate"]["spec"]["activeDeadlineSeconds"] > 0
    (retention,) = pod_spec(find("CronJob", "conversation-retention"))["containers"]
    assert retention["command"][:4] == ["python", "-m", "bot.conversation_store", "prune"]
    assert retention["image"] == pod_spec(find("Deployment", "rasa"))["containers"][0]["image"]
