"""deploy/compose.yaml, the one-host production-like run: its structure checked here without a container engine
(`docker compose config` too where one is installed), and its secrets script."""
from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from deploy_manifests import DEPLOY, compose


def services() -> dict:
    return compose()["services"]


def test_every_process_of_the_profile_is_there_replicated():
    assert set(services()) == {"postgres", "redis", "release", "backend", "rasa", "actions", "lb",
                               "conversation-retention", "backup"}
    for name in ("backend", "rasa", "actions"):
        assert services()[name]["deploy"]["replicas"] == 2, name
        assert "healthcheck" in services()[name], name


def test_the_backends_start_after_the_release_on_the_published_index():
    backend, release = services()["backend"], services()["release"]
    assert backend["depends_on"] == {"release": {"condition": "service_completed_successfully"}}
    assert release["command"][-1] == \
        "python -m backend.release migrate && python -m backend.knowledge_admin import --expect-configured"
    assert "index:/index:ro" in backend["volumes"] and "index:/index" in release["volumes"]
    assert backend["environment"] == release["environment"]


def test_state_is_in_postgresql_and_a_persistent_redis_with_a_password():
    redis = services()["redis"]
    assert "./files/redis.conf:/etc/redis/redis.conf:ro" in redis["volumes"]
    assert "requirepass" in redis["command"][-1] and "$$REDIS_PASSWORD" in redis["command"][-1]
    assert "appendonly yes" in (DEPLOY / "files" / "redis.conf").read_text().splitlines()
    rasa = services()["rasa"]["environment"]
    assert (rasa["RASA_DB_HOST"], rasa["REDIS_HOST"]) == ("postgres", "redis")
    assert "./files/rasa-endpoints.yml:/etc/rasa/endpoints.yml:ro" in services()["rasa"]["volumes"]
    assert set(compose()["volumes"]) == {"pgdata", "redisdata", "index", "backups"}


def test_every_file_it_mounts_exists():
    for service in services().values():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (DEPLOY / source).is_file(), source
    for build in (s["build"] for s in services().values() if "build" in s):
        assert (DEPLOY / build["context"] / build["dockerfile"]).is_file()


def test_the_balancer_knows_every_replicated_service():
    lb = services()["lb"]
    configs = "".join((DEPLOY / "files" / name).read_text() for name in ("haproxy.cfg", "haproxy-public.cfg"))
    assert set(re.findall(r'"\$\{([A-Z_]+)\}:', configs)) == set(lb["environment"])
    assert set(lb["environment"].values()) == {"backend", "actions", "rasa"}
    assert sorted(lb["ports"]) == ["5005:5005", "8000:8000"]
    assert services()["rasa"]["environment"]["ACTION_ENDPOINT_URL"] == "http://lb:5055/webhook"
    assert services()["actions"]["environment"]["BACKEND_URL"] == "http://lb:8000"
    # the action server's own message parsing (Rasa's /webhooks/nlu/parse) through the public Rasa entry
    assert services()["actions"]["environment"]["RASA_URL"] == "http://lb:5005"
    assert "/webhooks/" in (DEPLOY / "files" / "haproxy-public.cfg").read_text()


def test_the_daily_jobs_run_what_the_kubernetes_cronjobs_run():
    from deploy_manifests import find, pod_spec

    def cron_container(name: str) -> dict:
        (container,) = pod_spec(find("CronJob", name))["containers"]
        return container

    retention, backup = services()["conversation-retention"], services()["backup"]
    assert f"{' '.join(cron_container('conversation-retention')['command'])};" in retention["command"][-1]
    assert retention["environment"]["CONVERSATION_RETENTION_DAYS"] == \
        services()["rasa"]["environment"]["CONVERSATION_RETENTION_DAYS"]
    assert "./files/rasa-endpoints.yml:/etc/rasa/endpoints.yml:ro" in retention["volumes"]
    assert "bash /opt/backup/postgres-backup.sh;" in backup["command"][-1]
    assert cron_container("postgres-backup")["command"] == ["bash", "/opt/backup/postgres-backup.sh"]
    k8s = {v["name"]: v.get("value") for v in cron_container("postgres-backup")["env"]}
    assert {k: backup["environment"][k] for k in ("BACKUP_DATABASES", "BACKUP_KEEP", "BACKUP_DIR")} == \
        {k: k8s[k] for k in ("BACKUP_DATABASES", "BACKUP_KEEP", "BACKUP_DIR")}
    assert backup["image"] == cron_container("postgres-backup")["image"] == services()["postgres"]["image"]


def made_secrets(tmp_path: Path) -> Path:
    copy = tmp_path / "deploy"
    shutil.copytree(DEPLOY, copy, ignore=shutil.ignore_patterns(".env", "secrets"))
    subprocess.run(["bash", str(copy / "new-compose-secrets.sh")], check=True, capture_output=True,
                   env={"PATH": "/usr/bin:/bin"})
    return copy


def test_the_secrets_script_makes_what_compose_reads(tmp_path):
    copy = made_secrets(tmp_path)
    dotenv = dict(line.split("=", 1) for line in (copy / ".env").read_text().splitlines())
    text = (DEPLOY / "compose.yaml").read_text()
    assert set(re.findall(r"\$\{([A-Z_]+):\?", text)) == set(dotenv)
    assert {Path(s["file"]).name for s in compose()["secrets"].values()} == \
        {p.name for p in (copy / "secrets").iterdir()}
    assert stat.S_IMODE((copy / ".env").stat().st_mode) == 0o600
    assert stat.S_IMODE((copy / "secrets").stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in (copy / "secrets").iterdir()} == {0o644}
    values = list(dotenv.values()) + [p.read_text() for p in (copy / "secrets").iterdir()]
    assert len(set(values)) == len(values)
    before = (copy / ".env").read_text()
    subprocess.run(["bash", str(copy / "new-compose-secrets.sh")], check=True, capture_output=True,
                   env={"PATH": "/usr/bin:/bin"})
    assert (copy / ".env").read_text() == before  # kept: the database was initialised with these


def docker_compose() -> bool:
    return shutil.which("docker") is not None and subprocess.run(
        ["docker", "compose", "version"], capture_output=True).returncode == 0


@pytest.mark.skipif(not docker_compose(), reason="docker compose not installed")
def test_docker_compose_accepts_it(tmp_path):
    copy = made_secrets(tmp_path)
    subprocess.run(["docker", "compose", "-f", str(copy / "compose.yaml"), "config", "-q"], check=True,
                   env={**os.environ}, cwd=copy)
