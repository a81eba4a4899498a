// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @title OZBaseline
/// @notice Benchmark baseline, not product: a plain OpenZeppelin ERC-721 (no enumeration) with the
///         minting surface of an auto-increment collection (as the OpenZeppelin Wizard writes it),
///         so that bench/baselines.py can measure it exactly as bench/gas_report.py measures ticketkit.
contract OZBaseline is ERC721, Ownable {
    uint256 private _nextTokenId = 1;

    constructor() ERC721("OZ baseline", "OZB") Ownable(msg.sender) {}

    /// @notice Mint one token to `to`.
    function mint(address to) external onlyOwner returns (uint256 tokenId) {
        tokenId = _nextTokenId++;
        _mint(to, tokenId);
    }

    /// @notice Mint one token to each of `to`, with consecutive ids.
    function mintBatch(address[] calldata to) external onlyOwner returns (uint256 firstTokenId) {
        firstTokenId = _nextTokenId;
        for (uint256 i; i < to.length; ++i) {
            _mint(to[i], firstTokenId + i);
        }
        _nextTokenId = firstTokenId + to.length;
    }
}
