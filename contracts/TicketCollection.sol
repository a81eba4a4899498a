// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {PrimarySale} from "./ticket/PrimarySale.sol";
import {ResaleMarket} from "./ticket/ResaleMarket.sol";
import {CheckIn} from "./ticket/CheckIn.sol";
import {Refunds} from "./ticket/Refunds.sol";

/// @title One event's tickets: tiers, primary sale, capped resale, check-in with badges, refunds.
/// @notice Deployed once as an implementation; each event is a cheap EIP-1167 clone made by
/// {TicketFactory} and set up with {TicketBase-initialize}. The modules, each with its own state:
/// {TicketBase} (the event's settings and the transfer rule), {PrimarySale}, {ResaleMarket}, {CheckIn},
/// {Payments} and {Refunds}.
contract TicketCollection is PrimarySale, ResaleMarket, CheckIn, Refunds {
    constructor() EIP712("ticketkit TicketCollection", "1") {
        _disableInitializers();
    }
}
