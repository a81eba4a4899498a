// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {ERC721A} from "erc721a/contracts/ERC721A.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @title ERC721ABaseline
/// @notice Benchmark baseline, not product: a plain ERC721A (Azuki, 4.3.0) with an owner-gated mint
///         (one cold storage read per call, like ticketkit's role check), so that bench/baselines.py
///         can measure it exactly as bench/gas_report.py measures ticketkit.
contract ERC721ABaseline is ERC721A, Ownable {
    constructor() ERC721A("ERC721A baseline", "AZB") Ownable(msg.sender) {}

    /// @notice Mint `quantity` tokens to `to`: ERC721A's batch, one ownership slot for the whole run.
    function mint(address to, uint256 quantity) external onlyOwner {
        _mint(to, quantity);
    }

    /// @notice Mint one token to each of `to`.
    function mintBatch(address[] calldata to) external onlyOwner {
        for (uint256 i; i < to.length; ++i) {
            _mint(to[i], 1);
        }
    }
}
