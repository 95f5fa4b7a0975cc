"""The subset of kustomize that deploy/kubernetes uses, in Python, so the tests render the overlays without a
kustomize binary (test_kubernetes.py cross-checks it against `kubectl kustomize` where kubectl is installed).

Supported: Kustomization and Component files with `resources` (files and directories), `components`, `patches`
(a strategic-merge patch file by `path`, or a JSON 6902 patch inline with a `target`) and `images`. Anything
else in a kustomization is refused, so a manifest that starts using more of kustomize fails here loudly instead
of rendering wrong.
"""

import copy
from pathlib import Path

import yaml

KNOWN_FIELDS = {"apiVersion", "kind", "resources", "components", "patches", "images"}
# Strategic-merge keys of the core types used here (k8s.io/api's patchMergeKey tags); other lists are replaced.
MERGE_KEYS = {"containers": "name", "initContainers": "name", "env": "name", "volumes": "name",
              "volumeMounts": "mountPath", "ports": "containerPort", "imagePullSecrets": "name"}
# Kinds whose patches merge strategically; custom resources (KEDA's) get JSON merge patches, as in kustomize.
BUILTIN_GROUPS = {"v1", "apps/v1", "policy/v1", "batch/v1", "autoscaling/v2", "networking.k8s.io/v1"}


def load_documents(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]


def read_kustomization(directory: Path) -> dict:
    kustomization = load_documents(directory / "kustomization.yaml")[0]
    unknown = set(kustomization) - KNOWN_FIELDS
    assert not unknown, f"{directory}/kustomization.yaml uses kustomize fields this renderer lacks: {unknown}"
    return kustomization


def render(directory: Path, extra_components: tuple[Path, ...] = (), objects: list[dict] | None = None) -> list[dict]:
    """The objects `kustomize build directory` prints (order aside), with extra components after its own ones.
    A Component is rendered on top of `objects`, the objects of the kustomization that includes it."""
    kustomization = read_kustomization(directory)
    assert (objects is not None) == (kustomization["kind"] == "Component"), directory
    objects = list(objects or [])
    for entry in kustomization.get("resources", []):
        path = (directory / entry).resolve()
        objects += render(path) if path.is_dir() else load_documents(path)
    for entry in list(kustomization.get("components", [])) + list(extra_components):
        objects = render((directory / entry).resolve(), objects=objects)
    for patch in kustomization.get("patches", []):
        apply_patch(directory, patch, objects)
    for image in kustomization.get("images", []):
        for obj in objects:
            set_image(obj, image)
    names = [(o["kind"], o["metadata"]["name"]) for o in objects]
    assert len(names) == len(set(names)), f"{directory}: an object is defined twice: {names}"
    return objects


def find(objects: list[dict], kind: str, name: str) -> dict:
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"patch target {kind}/{name}: {len(matches)} objects match"
    return matches[0]


def apply_patch(directory: Path, patch: dict, objects: list[dict]) -> None:
    if "path" in patch:
        assert set(patch) == {"path"}, f"unsupported patch form: {patch}"
        for doc in load_documents(directory / patch["path"]):
            target = find(objects, doc["kind"], doc["metadata"]["name"])
            strategic = target["apiVersion"] in BUILTIN_GROUPS
            merged = merge(target, doc, strategic)
            target.clear()
            target.update(merged)
        return
    assert set(patch) == {"target", "patch"}, f"unsupported patch form: {patch}"
    target = find(objects, patch["target"]["kind"], patch["target"]["name"])
    for op in yaml.safe_load(patch["patch"]):
        json6902(target, op)


def merge(base, patch, strategic: bool):
    """A strategic-merge (or, for custom resources, JSON merge) patch of `base` by `patch`; `base` is untouched."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = copy.deepcopy(base)
        for key, value in patch.items():
            if value is None:
                out.pop(key, None)
            elif key in out and strategic and key in MERGE_KEYS and isinstance(value, list):
                out[key] = merge_list(out[key], value, MERGE_KEYS[key])
            elif key in out:
                out[key] = merge(out[key], value, strategic)
            else:
                out[key] = copy.deepcopy(value)
        return out
    return copy.deepcopy(patch)


def merge_list(base: list, patch: list, key: str) -> list:
    """Items of the patch first (merged into the base item with the same key), then the base's other items in
    their order: what kustomize's strategic merge prints."""
    by_key = {item[key]: item for item in base}
    out = [merge(by_key[item[key]], item, True) if item[key] in by_key else copy.deepcopy(item) for item in patch]
    patched = {item[key] for item in patch}
    return out + [copy.deepcopy(item) for item in base if item[key] not in patched]


def json6902(target: dict, op: dict) -> None:
    assert op["op"] in ("replace", "add"), f"unsupported JSON patch op: {op}"
    parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
    node = target
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    last = parts[-1]
    if isinstance(node, list):
        index = len(node) if last == "-" else int(last)
        if op["op"] == "add":
            node.insert(index, op["value"])
        else:
            node[index] = op["value"]
    else:
        assert op["op"] == "add" or last in node, f"JSON patch replace of a missing field: {op}"
        node[last] = op["value"]


def pod_spec(obj: dict) -> dict | None:
    if obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        return obj["spec"]["template"]["spec"]
    return None


def set_image(obj: dict, image: dict) -> None:
    spec = pod_spec(obj)
    if spec is None:
        return
    for container in spec.get("containers", []) + spec.get("initContainers", []):
        name, tag = split_image(container["image"])
        if name != image["name"]:
            continue
        new_name = image.get("newName", name)
        new_tag = image.get("newTag", tag)
        container["image"] = f"{new_name}:{new_tag}" if new_tag else new_name


def split_image(ref: str) -> tuple[str, str | None]:
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        return ref[: ref.rindex(":")], ref[ref.rindex(":") + 1:]
    return ref, None
