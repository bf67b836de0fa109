"""deploy/k8s/65-network-policies.yaml allows exactly the flows of the architecture, at both ends. The flows are
derived from the manifests, not written here: every in-cluster address a process's code reads from its settings
(URLs, HOST/PORT pairs, libpq's PGHOST/PGPORT, the internal balancer's pod lists and its configuration's ports),
resolved through the Services to the pods they select and the ports those pods listen on; the Ingress's Services
(from the ingress controller); DNS for every pod; and HTTPS to Microsoft's public hosts for Rasa's Teams channel."""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from deploy_manifests import DEPLOY, K8S, REPO, container_environment, find, objects, pod_spec
from test_deploy_settings import READ_BY, environment_reads

NAME = "app.kubernetes.io/name"
WORKLOADS = ("Deployment", "StatefulSet", "Job", "CronJob")
DEFAULT_PORTS = {"http": 80, "https": 443, "redis": 6379, "postgresql": 5432, "postgresql+psycopg": 5432}


def workloads() -> list[dict]:
    restore = [d for d in yaml.safe_load_all((K8S / "restore-job.example.yaml").read_text()) if d]
    return [o for o in objects() if o["kind"] in WORKLOADS] + restore


def app(workload: dict) -> str:
    return pod_spec_labels(workload)[NAME]


def pod_spec_labels(workload: dict) -> dict:
    template = workload["spec"]["jobTemplate"]["spec"]["template"] if workload["kind"] == "CronJob" \
        else workload["spec"]["template"]
    return template["metadata"]["labels"]


def reads(workload: dict) -> set[str]:
    """The settings the workload's code reads."""
    name = app(workload)
    if name in READ_BY:
        return set(READ_BY[name]())
    if name == "portal-release":  # the backend's code (backend.release, backend.knowledge_admin)
        return set(READ_BY["backend"]())
    if name == "conversation-retention":  # bot/conversation_store.py: the endpoints file's tracker_store section only
        source = (REPO / "bot" / "conversation_store.py").read_text()
        section = yaml.dump(yaml.load((DEPLOY / "files" / "rasa-endpoints.yml").read_text(),
                                      Loader=yaml.BaseLoader)["tracker_store"])
        return {n for n in environment_reads(REPO / "bot") if n in source} | set(
            re.findall(r"\$\{([A-Z][A-Z0-9_]+)\}", section))
    if name in ("postgres-backup", "postgres-restore"):
        return {"PGHOST", "PGPORT"}  # libpq (pg_dump, pg_restore)
    if name == "internal-lb":
        return {"BACKEND_PODS", "ACTION_PODS"}
    return set()


def service_target(host: str, port: int) -> tuple[str, int] | None:
    """(app, pod port) of an in-cluster Service address; None for an address outside the cluster."""
    service_name = host.removesuffix(".portal.svc.cluster.local")
    services = [o for o in objects() if o["kind"] == "Service" and o["metadata"]["name"] == service_name]
    if not services:
        return None
    (service,) = services
    (entry,) = [p for p in service["spec"]["ports"] if p["port"] == port]
    target = service["spec"]["selector"][NAME]
    (pods,) = [w for w in workloads() if w["kind"] in ("Deployment", "StatefulSet") and app(w) == target]
    ports = {p["name"]: p["containerPort"] for c in pod_spec(pods)["containers"] for p in c.get("ports", [])}
    target_port = entry.get("targetPort", port)
    return target, ports[target_port] if isinstance(target_port, str) else target_port


def expand(value: str, values: dict[str, str]) -> str:
    return re.sub(r"\$\(([A-Z0-9_]+)\)", lambda m: values.get(m.group(1), "x"), value)


def derived_flows() -> tuple[set[tuple[str, str, int]], set[str]]:
    """Pod-to-pod flows (source app, destination app, port) and the apps that call public hosts."""
    flows: set[tuple[str, str, int]] = set()
    external: set[str] = set()
    balancer_ports = {m.group(1): int(m.group(2)) for m in re.finditer(
        r'"\$\{([A-Z_]+)\}:(\d+)"', (DEPLOY / "files" / "haproxy.cfg").read_text())}
    for workload in workloads():
        source = app(workload)
        read = reads(workload)
        spec = pod_spec(workload)
        for container in spec.get("initContainers", []) + spec["containers"]:
            env = container_environment(workload, container["name"])
            values = {k: expand(v, env.values) for k, v in env.values.items() if k in read}
            addresses = []
            for name, value in values.items():
                if "://" in value:
                    url = urlsplit(value)
                    if url.hostname and "{" not in url.hostname:
                        addresses.append((url.hostname, url.port or DEFAULT_PORTS[url.scheme], url.scheme))
                if name.endswith("_HOST") and f"{name[:-5]}_PORT" in values:
                    addresses.append((value, int(values[f"{name[:-5]}_PORT"]), ""))
                if name in balancer_ports:
                    addresses.append((value, balancer_ports[name], ""))
            if values.get("PGHOST"):
                addresses.append((values["PGHOST"], int(values.get("PGPORT", 5432)), ""))
            for host, port, scheme in addresses:
                target = service_target(host, port)
                if target:
                    flows.add((source, *target))
                elif scheme == "https" and source == "rasa" and "TEAMS_" in " ".join(
                        k for k, v in values.items() if host in v):
                    external.add(source)  # Teams: OpenID metadata, token; replies go to the activity's serviceUrl
    return flows, external


def ingress_flows() -> set[tuple[str, int]]:
    found = set()
    for rule in find("Ingress", "portal")["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            service = path["backend"]["service"]
            (entry,) = [p for p in find("Service", service["name"])["spec"]["ports"]
                        if p["name"] == service["port"]["name"]]
            found.add(service_target(service["name"], entry["port"]))
    return found


def policies() -> list[dict]:
    return [o for o in objects() if o["kind"] == "NetworkPolicy"]


def selected(selector: dict, apps: set[str]) -> set[str]:
    if not selector:
        return set(apps)
    chosen = set(apps)
    if NAME in selector.get("matchLabels", {}):
        chosen &= {selector["matchLabels"][NAME]}
    for expression in selector.get("matchExpressions", []):
        assert expression["key"] == NAME and expression["operator"] == "In"
        chosen &= set(expression["values"])
    assert set(selector) <= {"matchLabels", "matchExpressions"} and set(selector.get("matchLabels", {})) <= {NAME}
    return chosen


def peers(rule_peers: list[dict], apps: set[str]) -> set[str]:
    found: set[str] = set()
    for peer in rule_peers:
        if "ipBlock" in peer:
            found.add("internet")
        elif "namespaceSelector" in peer:
            namespace = peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
            found.add({"ingress-nginx": "ingress-nginx", "kube-system": "dns"}[namespace])
        else:
            found |= selected(peer["podSelector"], apps)
    return found


def allowed() -> tuple[set[tuple[str, str, int]], set[tuple[str, str, int]]]:
    """(egress, ingress) as (source, destination, port) triples."""
    apps = {app(w) for w in workloads()}
    egress, ingress = set(), set()
    for policy in policies():
        spec = policy["spec"]
        pods = selected(spec["podSelector"], apps)
        for rule in spec.get("egress", []):
            for destination in peers(rule["to"], apps):
                egress |= {(pod, destination, p["port"]) for pod in pods for p in rule["ports"]
                           if p["protocol"] == "TCP"}
        for rule in spec.get("ingress", []):
            for source in peers(rule["from"], apps):
                ingress |= {(source, pod, p["port"]) for pod in pods for p in rule["ports"]}
    return egress, ingress


def test_every_pod_is_denied_by_default_both_ways():
    (deny,) = [p for p in policies() if p["metadata"]["name"] == "default-deny"]
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    for policy in policies():
        kinds = set(policy["spec"]["policyTypes"])
        assert ("ingress" in policy["spec"]) <= ("Ingress" in kinds) and ("egress" in policy["spec"]) <= (
            "Egress" in kinds)


def test_the_flows_are_found():
    """The derivation sees the architecture (deploy/README.md), so an empty or partial list cannot pass."""
    flows, external = derived_flows()
    assert {("rasa", "internal-lb", 8000), ("rasa", "internal-lb", 5055), ("internal-lb", "backend", 8000),
            ("internal-lb", "actions", 5055), ("actions", "internal-lb", 8000), ("actions", "rasa", 5005),
            ("rasa", "postgres", 5432), ("rasa", "redis", 6379), ("backend", "postgres", 5432),
            ("portal-release", "postgres", 5432), ("conversation-retention", "postgres", 5432),
            ("postgres-backup", "postgres", 5432), ("postgres-restore", "postgres", 5432)} == flows
    assert external == {"rasa"}
    assert ingress_flows() == {("backend", 8000), ("rasa", 5005)}


def test_egress_is_exactly_the_flows_dns_and_teams():
    flows, external = derived_flows()
    egress, _ = allowed()
    apps = {app(w) for w in workloads()}
    expected = flows | {(a, "dns", 53) for a in apps} | {(a, "internet", 443) for a in external}
    assert egress == expected


def test_ingress_is_exactly_the_flows_and_the_ingress_controller():
    flows, _ = derived_flows()
    _, ingress = allowed()
    assert ingress == flows | {("ingress-nginx", target, port) for target, port in ingress_flows()}


def test_the_public_egress_leaves_private_addresses_out():
    (rasa,) = [p for p in policies() if p["metadata"]["name"] == "rasa"]
    (block,) = [peer["ipBlock"] for rule in rasa["spec"]["egress"] for peer in rule["to"] if "ipBlock" in peer]
    assert block["cidr"] == "0.0.0.0/0" and {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"} <= set(block["except"])


def test_the_readme_describes_the_policies():
    readme = (DEPLOY / "README.md").read_text()
    assert "65-network-policies.yaml" in readme and Path(K8S / "65-network-policies.yaml").is_file()
