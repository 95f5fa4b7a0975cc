"""deploy/kubernetes: the overlays render (kustomize.py, cross-checked with `kubectl kustomize` where installed),
every object is valid against the Kubernetes API schemas (kubernetes-validate, strict: unknown fields fail) and
KEDA's ScaledObject CRD (cloudcoil's models generated from it), and what the objects say holds for podserve: every
flag and variable is one that `podserve ... --help` lists, the worker's URLs reach a real `podserve endpoint`'s
routes through the endpoint Service, and the ScaledObject's PromQL names series that endpoint really exports.
"""

import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import kubernetes_validate
import promql_parser
import pytest
import requests
import yaml
from cloudcoil.models.keda.v1alpha1 import ScaledObject, TriggerAuthentication
from kustomize import pod_spec, render
from podserve_testutil import free_port, require_env
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"
POSTGRES = ROOT / "components" / "postgres"
KEDA_POSTGRESQL = ROOT / "components" / "keda-postgresql"
# The Kubernetes release the manifests are checked against (kubernetes-validate ships 1.25 to 1.37).
KUBERNETES_VERSION = "1.30.0"
# What is rendered: the two overlays as shipped, the CPU one with the try-it-out PostgreSQL component, and that
# with KEDA's postgresql trigger in place of the Prometheus one.
RENDERS = {"cpu": ("overlays/cpu", ()), "gpu": ("overlays/gpu", ()), "cpu+postgres": ("overlays/cpu", (POSTGRES,)),
           "cpu+postgres+keda-postgresql": ("overlays/cpu", (POSTGRES, KEDA_POSTGRESQL))}


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict]]:
    return {name: render(ROOT / path, components) for name, (path, components) in RENDERS.items()}


def objects_of(objects: list[dict], kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def container(objects: list[dict], deployment: str) -> dict:
    spec = pod_spec(objects_of(objects, "Deployment")[deployment])
    assert len(spec["containers"]) == 1, deployment
    return spec["containers"][0]


def env_of(c: dict) -> dict[str, dict]:
    names = [e["name"] for e in c.get("env", [])]
    assert len(names) == len(set(names)), f"{c['name']}: a variable is set twice: {names}"
    return {e["name"]: e for e in c.get("env", [])}


def keyed(objects: list[dict]) -> list[dict]:
    return sorted(objects, key=lambda o: (o["kind"], o["metadata"]["name"]))


@pytest.mark.parametrize("name", RENDERS)
def test_renders_as_kubectl_kustomize_does(rendered, name):
    kubectl = shutil.which("kubectl")
    if not kubectl:
        pytest.skip("kubectl is not installed: kustomize.py is not cross-checked against kustomize here")
    path, components = RENDERS[name]
    with tempfile.TemporaryDirectory(prefix="podserve-kustomize-") as tmp:
        # A kustomization that adds the extra components to the overlay, as a user's own overlay would.
        (Path(tmp) / "kustomization.yaml").write_text(yaml.safe_dump({
            "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
            "resources": [os.path.relpath(ROOT / path, tmp)],  # kustomize refuses absolute roots
            "components": [os.path.relpath(c, tmp) for c in components]}))
        out = subprocess.run([kubectl, "kustomize", tmp], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert keyed(rendered[name]) == keyed(list(yaml.safe_load_all(out.stdout)))


@pytest.mark.parametrize("name", RENDERS)
def test_objects_validate_against_the_kubernetes_and_keda_schemas(rendered, name):
    kinds = set()
    for obj in rendered[name]:
        kinds.add(obj["kind"])
        if obj["apiVersion"] == "keda.sh/v1alpha1":
            crd = {"ScaledObject": ScaledObject, "TriggerAuthentication": TriggerAuthentication}[obj["kind"]]
            # Unknown fields would be dropped by the model and wrong types (a number where KEDA wants a string)
            # refused: what validates and dumps back unchanged is what the CRD accepts.
            model = crd.model_validate(obj)
            assert model.model_dump(by_alias=True, exclude_unset=True, mode="json") == obj
        else:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    assert {"Deployment", "Service", "PersistentVolumeClaim", "ScaledObject", "PodDisruptionBudget"} <= kinds
    if "postgres" in name:
        assert {"StatefulSet", "Secret"} <= kinds


def test_the_schemas_refuse_what_kubernetes_and_keda_refuse(rendered):
    """The validators used above do fail: a misspelt field, a number for KEDA's string metadata."""
    deployment = objects_of(rendered["cpu"], "Deployment")["podserve-endpoint"]
    bad = yaml.safe_load(yaml.safe_dump(deployment))
    bad["spec"]["replica"] = bad["spec"].pop("replicas")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBERNETES_VERSION, strict=True)
    scaled = yaml.safe_load(yaml.safe_dump(objects_of(rendered["cpu"], "ScaledObject")["podserve-worker"]))
    scaled["spec"]["triggers"][0]["metadata"]["threshold"] = 8
    with pytest.raises(ValueError):
        ScaledObject.model_validate(scaled)
    scaled["spec"]["triggers"][0]["metadata"]["threshold"] = "8"
    scaled["spec"]["minReplicas"] = 0
    dumped = ScaledObject.model_validate(scaled).model_dump(by_alias=True, exclude_unset=True, mode="json")
    assert dumped != scaled


@pytest.mark.parametrize("name", RENDERS)
def test_endpoint_worker_and_scaler_fit_together(rendered, name):
    objects = rendered[name]
    deployments = objects_of(objects, "Deployment")
    endpoint, worker = container(objects, "podserve-endpoint"), container(objects, "podserve-worker")
    e_env, w_env = env_of(endpoint), env_of(worker)

    # The endpoint: several replicas serving the queue only, on a database named by a Secret.
    assert deployments["podserve-endpoint"]["spec"]["replicas"] >= 2
    assert endpoint["args"][0] == "endpoint"
    assert endpoint["args"][endpoint["args"].index("--workers-max") + 1] == "0"
    assert e_env["ENDPOINT_DB"]["valueFrom"]["secretKeyRef"] == {"name": "podserve-db", "key": "url"}
    port = int(e_env["ENDPOINT_PORT"]["value"])
    assert endpoint["ports"] == [{"name": "http", "containerPort": port}]
    for probe in ("readinessProbe", "livenessProbe"):
        assert endpoint[probe]["httpGet"] == {"path": "/health", "port": "http"}
    service = objects_of(objects, "Service")["podserve-endpoint"]
    assert service["spec"]["selector"] == deployments["podserve-endpoint"]["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    service_port = service["spec"]["ports"][0]["port"]

    # The worker: scaled from zero by the ScaledObject, reaching the endpoint through its Service, with the
    # endpoint's worker key, its model cache on the PVC and HF_TOKEN from a Secret.
    assert deployments["podserve-worker"]["spec"]["replicas"] == 0
    assert worker["args"] == ["worker"]
    endpoint_id = e_env["RUNPOD_ENDPOINT_ID"]["value"]
    base = f"http://{service['metadata']['name']}:{service_port}/v2/{endpoint_id}/"
    for var in ("RUNPOD_WEBHOOK_GET_JOB", "RUNPOD_WEBHOOK_POST_OUTPUT", "RUNPOD_WEBHOOK_POST_STREAM",
                "RUNPOD_WEBHOOK_PING"):
        assert w_env[var]["value"].startswith(base), (var, w_env[var]["value"])
    assert w_env["RUNPOD_AI_API_KEY"]["valueFrom"] == e_env["RUNPOD_AI_API_KEY"]["valueFrom"]
    assert w_env["HF_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == "podserve-hf-token"
    assert w_env["RUNPOD_POD_ID"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    spec = pod_spec(deployments["podserve-worker"])
    claim = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in spec["volumes"]}
    mounts = {m["mountPath"]: claim[m["name"]] for m in worker["volumeMounts"]}
    cache_mount = str(Path(w_env["HF_HUB_CACHE"]["value"]).parent)
    assert mounts[cache_mount] in objects_of(objects, "PersistentVolumeClaim")
    for deployment in deployments.values():  # no Service-link variables next to podserve's own
        assert pod_spec(deployment)["enableServiceLinks"] is False

    scaled = objects_of(objects, "ScaledObject")["podserve-worker"]["spec"]
    assert scaled["scaleTargetRef"]["name"] == "podserve-worker" and scaled["minReplicaCount"] == 0
    [trigger] = scaled["triggers"]
    # RunPod's REQUEST_COUNT with the worker's concurrency: ceil((in queue + in progress) / MAX_CONCURRENCY).
    assert trigger.get("metricType", "AverageValue") == "AverageValue"
    if name.endswith("keda-postgresql"):
        assert trigger["type"] == "postgresql"
        assert trigger["metadata"]["targetQueryValue"] == w_env["MAX_CONCURRENCY"]["value"]
        auth = objects_of(objects, "TriggerAuthentication")[trigger["authenticationRef"]["name"]]
        [ref] = auth["spec"]["secretTargetRef"]
        assert ref["parameter"] == "connection"  # the same database URL as the endpoint's
        assert {"name": ref["name"], "key": ref["key"]} == e_env["ENDPOINT_DB"]["valueFrom"]["secretKeyRef"]
    else:
        assert trigger["type"] == "prometheus"
        assert trigger["metadata"]["threshold"] == w_env["MAX_CONCURRENCY"]["value"]

    # Images and GPUs by overlay.
    if name.startswith("cpu"):
        assert endpoint["image"] == worker["image"] == "registry.example.com/podserve:latest"
        assert "nvidia.com/gpu" not in str(worker["resources"])
    else:
        assert endpoint["image"] == "registry.example.com/podserve:latest"
        assert worker["image"] == "registry.example.com/podserve-cuda:latest"
        assert worker["resources"]["limits"]["nvidia.com/gpu"] == 1
        assert worker["resources"]["requests"]["nvidia.com/gpu"] == 1
        assert w_env["DEVICE"]["value"] == "cuda"
        assert 0 < float(w_env["GPU_MEMORY_UTILIZATION"]["value"]) <= 1
    if "postgres" in name:
        secrets = objects_of(objects, "Secret")
        url = secrets["podserve-db"]["stringData"]["url"]
        assert url.startswith("postgresql://") and "@podserve-postgres:5432/" in url
        assert secrets["podserve-postgres"]["stringData"]["password"] in url


def help_text(*args: str) -> str:
    out = subprocess.run([require_env("PODSERVE_BINARY"), *args, "--help"], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_every_flag_and_variable_is_podserves(rendered):
    """What the podserve containers set is what `podserve endpoint|worker|serve|download --help` list (the
    worker loads its model as `podserve serve` and `podserve download` do)."""
    known = {"endpoint": help_text("endpoint"),
             "worker": help_text("worker") + help_text("serve") + help_text("download")}
    for name, objects in rendered.items():
        for deployment in objects_of(objects, "Deployment").values():
            for c in pod_spec(deployment)["containers"]:
                command, *flags = c["args"]
                for flag in (f for f in flags if f.startswith("--")):
                    assert listed(flag, known[command]), f"{name}: `podserve {command}` has no flag {flag}"
                for var in env_of(c):
                    assert listed(var, known[command]), f"{name}: `podserve {command}` does not read {var}"


def listed(word: str, text: str) -> bool:
    """`word` as a whole flag or variable name in `text` (PORT is not listed by ENDPOINT_PORT, --db not by --dbx)."""
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text) is not None


def manifest_env(c: dict, **overrides: str) -> dict[str, str]:
    """A container's variables as a process gets them: literal values, with the given overrides (the Secret
    values, a free port, paths under a temporary folder); `fieldRef`/`secretKeyRef` entries must be overridden."""
    env = {"PATH": os.environ.get("PATH", "")}
    for var, entry in env_of(c).items():
        if "value" in entry:
            env[var] = entry["value"]
        else:
            assert var in overrides, f"{c['name']}: {var} comes from {entry['valueFrom']}: the test must give it"
    env.update(overrides)
    return env


def start(args: list[str], env: dict[str, str], log_path: str) -> subprocess.Popen:
    with open(log_path, "w") as log:
        return subprocess.Popen([require_env("PODSERVE_BINARY"), *args], env=env, stdout=log,
                                stderr=subprocess.STDOUT)


def wait_for(predicate, timeout: float, what: str, log_path: str):
    deadline = time.monotonic() + timeout
    while True:
        try:
            if value := predicate():
                return value
        except requests.ConnectionError:
            pass
        assert time.monotonic() < deadline, f"timed out waiting for {what}: {open(log_path).read()[-3000:]}"
        time.sleep(0.1)


def test_the_manifests_run_a_real_endpoint_and_worker(rendered, tmp_path):
    """`podserve endpoint` and `podserve worker` started with the containers' own arguments and variables (the
    Service's address swapped for the endpoint's loopback port, SQLite in place of PostgreSQL, the test model in
    place of the Hub's): the probe path answers, the worker URLs take, ping, stream and finish jobs, and the
    ScaledObject's PromQL selects exported series that add up to RunPod's queued + in progress."""
    objects = rendered["cpu"]
    endpoint, worker = container(objects, "podserve-endpoint"), container(objects, "podserve-worker")
    service = objects_of(objects, "Service")["podserve-endpoint"]
    service_base = f"http://{service['metadata']['name']}:{service['spec']['ports'][0]['port']}"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    keys = {"RUNPOD_AI_API_KEY": "worker-key"}
    endpoint_log, worker_log = str(tmp_path / "endpoint.log"), str(tmp_path / "worker.log")
    ep = start(endpoint["args"], manifest_env(endpoint, ENDPOINT_PORT=str(port), ENDPOINT_HOST="127.0.0.1",
                                              ENDPOINT_DB=str(tmp_path / "jobs.db"), RUNPOD_API_KEY="client-key",
                                              **keys), endpoint_log)
    w = None
    try:
        probe = endpoint["readinessProbe"]["httpGet"]["path"]
        wait_for(lambda: requests.get(url + probe, timeout=2).status_code == 200, 30, "the probe", endpoint_log)
        endpoint_id = env_of(endpoint)["RUNPOD_ENDPOINT_ID"]["value"]
        auth = {"Authorization": "Bearer client-key"}
        jobs = [{"prompt": "taken by hand"},
                {"prompt": "The capital of France is", "sampling_params": {"max_tokens": 4, "temperature": 0}},
                {"prompt": "Once upon a time", "stream": True, "sampling_params": {"max_tokens": 6, "temperature": 0}}]
        ids = []
        for job in jobs:
            r = requests.post(f"{url}/v2/{endpoint_id}/run", json={"input": job}, headers=auth, timeout=10)
            assert r.status_code == 200, r.text
            ids.append(r.json()["id"])

        # Before any worker: the worker's job-take URL leases the oldest job to "pod-a" by hand.
        w_env = env_of(worker)
        def url_of(var: str, job_id: str = "") -> str:
            return w_env[var]["value"].replace(service_base, url).replace("$RUNPOD_POD_ID", "pod-a").replace(
                "$ID", job_id or "pod-a")
        worker_auth = {"Authorization": "worker-key"}
        r = requests.get(url_of("RUNPOD_WEBHOOK_GET_JOB") + "&job_in_progress=0", headers=worker_auth, timeout=10)
        assert r.status_code == 200, r.text
        taken = r.json()["id"]
        assert taken == ids[0]
        r = requests.get(url_of("RUNPOD_WEBHOOK_PING") + f"&job_id={taken}", headers=worker_auth, timeout=10)
        assert r.status_code == 200, r.text
        assert scaler_value(objects, url) == 3  # 2 queued + 1 in progress

        # pod-a answers the job it took through the job-done URL; a real worker with the manifest's variables
        # takes the other two, streams one, and finishes both.
        r = requests.post(url_of("RUNPOD_WEBHOOK_POST_OUTPUT", taken) + "&isStream=false",
                          json={"output": "done by hand"}, headers=worker_auth, timeout=10)
        assert r.status_code == 200, r.text
        w = start(worker["args"], manifest_env(
            worker, HF_TOKEN="", RUNPOD_POD_ID="podserve-worker-7d9f-abcde", HF_HUB_CACHE=str(tmp_path / "hub"),
            MODEL_NAME=require_env("PODSERVE_TEST_MODEL"), MAX_MODEL_LEN="2048", KV_CACHE_MEMORY="0.25", **{
                var: w_env[var]["value"].replace(service_base, url) for var in w_env if var.startswith(
                    "RUNPOD_WEBHOOK_")}, **keys), worker_log)
        def finished():
            statuses = [requests.get(f"{url}/v2/{endpoint_id}/status/{i}", headers=auth, timeout=5).json()
                        for i in ids]
            return statuses if all(s["status"] in ("COMPLETED", "FAILED") for s in statuses) else None
        statuses = wait_for(finished, 120, "the jobs to finish", worker_log)
        assert [s["status"] for s in statuses] == ["COMPLETED"] * 3, statuses
        assert statuses[0]["workerId"] == "pod-a" and statuses[0]["output"] == "done by hand"
        assert {s["workerId"] for s in statuses[1:]} == {"podserve-worker-7d9f-abcde"}
        assert statuses[1]["output"][0]["usage"]["output"] == 4
        streamed = "".join(t for item in statuses[2]["output"] for t in item["choices"][0]["tokens"])
        assert streamed and statuses[2]["output"][-1]["usage"]["output"] == 6
        r = requests.get(f"{url}/v2/{endpoint_id}/stream/{ids[2]}", headers=auth, timeout=5)
        assert [item["output"] for item in r.json()["stream"]] == statuses[2]["output"]  # posted item by item
        assert scaler_value(objects, url) == 0
    finally:
        for proc in (w, ep):
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=30)


def scaler_value(objects: list[dict], url: str) -> float:
    """The ScaledObject's query on this endpoint's /metrics: every metric it names is exported, each selector
    matches series by label equality, and max() of each, added, is the query's value."""
    series: dict[str, list[tuple[dict, float]]] = {}
    for family in text_string_to_metric_families(requests.get(url + "/metrics", timeout=10).text):
        for s in family.samples:
            series.setdefault(s.name, []).append((s.labels, s.value))
    query = objects_of(objects, "ScaledObject")["podserve-worker"]["spec"]["triggers"][0]["metadata"]["query"]
    ast = promql_parser.parse(query)
    selectors = []
    promql_parser.walk(ast, pre_visit=lambda node: selectors.append(node)
                       if isinstance(node, promql_parser.VectorSelector) else None)
    assert len(selectors) == 2, query
    total = 0.0
    for sel in selectors:
        assert sel.name in series, f"the scaler queries {sel.name}, which podserve endpoint does not export"
        matchers = [m for m in sel.matchers.matchers if m.name != "__name__"]
        assert all(m.op == promql_parser.MatchOp.Equal for m in matchers), f"{sel.name}: only = matchers here"
        wanted = {m.name: m.value for m in matchers}
        values = [v for labels, v in series[sel.name] if all(labels.get(k) == v2 for k, v2 in wanted.items())]
        assert values, f"{sel.name}{wanted} selects no series of {series[sel.name]}"
        total += max(values)
    return total
