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
        _name = config.name;
        _symbol = config.symbol;
        _baseTokenURI = config.baseURI;
        _startTime = config.startTime;
        _transferLockTime = config.transferLockTime;
        _resaleCapBps = config.resaleCapBps;
        _giftsAllowed = config.giftsAllowed;
        _badge = config.badge;
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
