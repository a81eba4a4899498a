// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Initializable} from "@openzeppelin/contracts/proxy/utils/Initializable.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {PrimarySale} from "./ticket/PrimarySale.sol";
import {ResaleMarket} from "./ticket/ResaleMarket.sol";
import {CheckIn} from "./ticket/CheckIn.sol";
import {Refunds} from "./ticket/Refunds.sol";

/// @title One event's tickets: tiers, primary sale, capped resale, check-in with badges, refunds.
/// @notice Deployed once as an implementation; each event is a cheap EIP-1167 clone made by
/// {TicketFactory} and set up with {initialize}.
contract TicketCollection is Initializable, PrimarySale, ResaleMarket, CheckIn, Refunds {
    /// @notice The resale cap must be at least 100% of face value (10,000 basis points).
    error ResaleCapBelowFaceValue(uint16 resaleCapBps);
    /// @notice A collection's start time must be in the future.
    error StartTimeInPast(uint64 startTime, uint256 now);

    constructor() EIP712("ticketkit TicketCollection", "1") {
        _disableInitializers();
    }

    /// @notice Sets up a clone for `organiser`, who receives the admin, minter and gate roles.
    function initialize(address organiser, EventConfig calldata config, TierConfig[] calldata tiers)
        external
        initializer
    {
        if (config.resaleCapBps < 10_000) revert ResaleCapBelowFaceValue(config.resaleCapBps);
        // A start already passed would free the refund reserve at once and make cancelEvent impossible.
        if (config.startTime <= block.timestamp) revert StartTimeInPast(config.startTime, block.timestamp);
        _setEvent(config);
        address receiver = config.royaltyReceiver == address(0) ? organiser : config.royaltyReceiver;
        _setDefaultRoyalty(receiver, config.royaltyBps);
        _grantRole(DEFAULT_ADMIN_ROLE, organiser);
        _grantRole(MINTER_ROLE, organiser);
        _grantRole(GATE_ROLE, organiser);
        for (uint256 i; i < tiers.length; ++i) {
            _addTier(tiers[i]);
        }
    }
}
