"""The artifacts shipped in the package are exactly what the sources compile to."""

import json

import pytest

from ticketkit import _artifacts, _compile


@pytest.fixture(scope="module")
def compiled():
    return _compile.compile_sources(_compile.source_files())


@pytest.mark.parametrize("name", _compile.PRODUCT_CONTRACTS)
def test_artifact_matches_sources(compiled, name):
    shipped = _artifacts.load(name)
    assert shipped["compiler"]["version"] == _compile.SOLC_VERSION
    assert shipped["compiler"]["sourcesDigest"] == _compile.sources_digest(_compile.source_files()), (
        "contracts changed since the artifacts were built: run `make artifacts`"
    )
    assert shipped["bytecode"] == compiled[name]["bytecode"]
    assert shipped["deployedBytecode"] == compiled[name]["deployedBytecode"]
    assert shipped["abi"] == compiled[name]["abi"]
    assert (shipped["userdoc"], shipped["devdoc"]) == (compiled[name]["userdoc"], compiled[name]["devdoc"])


def test_runtime_fits_the_code_size_limit():
    for name in _compile.PRODUCT_CONTRACTS:
        size = (len(_artifacts.load(name)["deployedBytecode"]) - 2) // 2
        assert size <= 24_576, f"{name} runtime is {size} bytes"


def test_artifacts_are_package_data():
    # A user who only pip-installs gets these files: they live inside the package directory.
    names = {p.stem for p in _artifacts.ARTIFACTS_DIR.glob("*.json")}
    assert set(_compile.PRODUCT_CONTRACTS) <= names
    for name in names:
        json.loads((_artifacts.ARTIFACTS_DIR / f"{name}.json").read_text())
