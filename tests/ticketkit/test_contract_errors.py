"""ticketkit/contract_errors.py is what the shipped ABIs and their NatSpec generate, and callers get typed
classes with the organisers' hints."""

import typing

from eth_abi import encode

from ticketkit import _artifacts, _codegen, _compile, chain, contract_errors, errors

ARTIFACTS = {name: _artifacts.load(name) for name in _compile.PRODUCT_CONTRACTS}


def test_generated_module_matches_the_artifacts():
    assert _codegen.OUTPUT.read_text() == _codegen.render(ARTIFACTS), (
        "ticketkit/contract_errors.py is stale: run `make artifacts`"
    )


def test_every_abi_error_has_its_class_with_typed_fields():
    for artifact in ARTIFACTS.values():
        for entry in (e for e in artifact["abi"] if e["type"] == "error"):
            cls = getattr(errors, entry["name"])
            assert cls is errors.error_class(entry["name"]) and issubclass(cls, errors.ContractRevert)
            assert cls.__module__ == "ticketkit.contract_errors" and entry["name"] in errors.__all__
            inherited = typing.get_type_hints(errors.ContractRevert)
            fields = [n for n in typing.get_type_hints(cls) if n not in inherited]
            assert fields == [i["name"] for i in entry["inputs"]]


def test_docstrings_are_the_natspec():
    assert errors.PriceAboveCap.__doc__.startswith("The price exceeds face value x the resale cap.")
    assert "error PriceAboveCap(uint256 tokenId, uint256 price, uint256 cap)" in errors.PriceAboveCap.__doc__
    # Library errors keep their own NatSpec (OpenZeppelin's AccessControl).
    assert "missing a role" in errors.AccessControlUnauthorizedAccount.__doc__


def test_a_revert_decodes_to_the_generated_class():
    data = bytes.fromhex(errors.SoldOut.selector[2:]) + encode(["uint256"] * 3, [1, 5, 2])
    decoded = chain.decode_revert("0x" + data.hex())
    assert type(decoded) is contract_errors.SoldOut
    assert (decoded.tierId, decoded.requested, decoded.remaining, decoded.code) == (1, 5, 2, "sold_out")


def test_hand_written_hints_still_explain():
    sold_out = errors.SoldOut(tierId=0, requested=3, remaining=1)
    assert "raise the tier's supply or mint fewer" in sold_out.explain("0xC0")
    assert "ticketkit cancel 0xC0" in errors.EventNotCancelled().explain("0xC0")
    # Without a hint the NatSpec's first sentence explains, then the raw error.
    assert errors.NotListed(tokenId=7).explain() == (
        "The ticket is not listed for resale (by the caller) (NotListed(tokenId=7))"
    )


def test_an_unknown_error_name_still_gets_a_class():
    cls = errors.error_class("SomethingNew")
    assert issubclass(cls, errors.ContractRevert) and cls is errors.error_class("SomethingNew")
    assert cls(x=1).code == "something_new"
