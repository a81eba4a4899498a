// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC4906} from "@openzeppelin/contracts/interfaces/IERC4906.sol";
import {IAttendanceBadge} from "../interfaces/IAttendanceBadge.sol";
import {TicketBase} from "./TicketBase.sol";

/// @title Batch check-in at the gate, minting the attendance badge in the same transaction.
abstract contract CheckIn is TicketBase {
    /// @notice Marks each ticket used and mints its holder's badge. A ticket already used, or that
    /// does not exist (refunded), is skipped with {CheckInSkipped} rather than reverting the batch:
    /// the gate has already decided admission, and one duplicate must not hold back the others.
    /// A used ticket is never admitted twice and never moves again. Each ticket checked in emits ERC-4906
    /// `MetadataUpdate`, so wallets show it as used.
    /// @return admitted How many tickets of the batch were checked in.
    function checkIn(uint256[] calldata tokenIds) external onlyRole(GATE_ROLE) returns (uint256 admitted) {
        _requireNotCancelled();
        address[] memory holders = new address[](tokenIds.length);
        for (uint256 i; i < tokenIds.length; ++i) {
            uint256 tokenId = tokenIds[i];
            address holder = _ownerOf(tokenId);
            if (holder == address(0)) {
                emit CheckInSkipped(tokenId, SKIP_NOT_FOUND);
                continue;
            }
            uint96 extra = _getExtraData(tokenId);
            if (extra & _USED != 0) {
                emit CheckInSkipped(tokenId, SKIP_ALREADY_USED);
                continue;
            }
            _setExtraData(tokenId, extra | _USED);
            emit CheckedIn(tokenId, holder);
            emit IERC4906.MetadataUpdate(tokenId);
            holders[admitted++] = holder;
        }
        if (admitted != 0 && _badge != address(0)) {
            assembly ("memory-safe") {
                mstore(holders, admitted) // shrink to the admitted holders
            }
            IAttendanceBadge(_badge).issue(holders);
        }
    }

    /// @notice Whether `tokenId` has been checked in.
    function isUsed(uint256 tokenId) external view returns (bool) {
        return _extraOf(tokenId) & _USED != 0;
    }
}
