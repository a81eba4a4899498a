// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC721A} from "erc721a/contracts/ERC721A.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @title ERC721ATieredBaseline
/// @notice Benchmark baseline, not product: the cheapest ERC721A that knows each token's tier, which a ticket
///         collection must know on chain (the face value behind the resale cap and refunds). The tier rides in
///         ERC721A's 24 extra-data bits, written in the same slot as the owner: `_extraData` returns it from a
///         transient value set once per mint call, the only way ERC721A lets a mint choose a token's extra data.
///         Nothing else of the product (no supply, roles, transfer rule): this is the floor of an
///         ERC721A-based ticket, measured by bench/baselines.py beside plain ERC721A (docs/gas.md).
contract ERC721ATieredBaseline is ERC721A, Ownable {
    uint24 private transient _mintingTier;

    constructor() ERC721A("ERC721A tiered baseline", "AZT") Ownable(msg.sender) {}

    /// @notice Mint `quantity` tokens of `tier` to `to`: one ownership slot for the whole run.
    function mint(uint24 tier, address to, uint256 quantity) external onlyOwner {
        _mintingTier = tier;
        _mint(to, quantity);
    }

    /// @notice Mint one token of `tier` to each of `to`.
    function mintBatch(uint24 tier, address[] calldata to) external onlyOwner {
        _mintingTier = tier;
        for (uint256 i; i < to.length; ++i) {
            _mint(to[i], 1);
        }
    }

    /// @notice The tier a token was minted in.
    function tierOf(uint256 tokenId) external view returns (uint24) {
        return _ownershipOf(tokenId).extraData;
    }

    /// @dev A mint takes the tier of its call; a transfer keeps the token's.
    function _extraData(address from, address, uint24 previousExtraData) internal view override returns (uint24) {
        return from == address(0) ? _mintingTier : previousExtraData;
    }
}
