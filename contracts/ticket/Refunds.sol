// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {Payments} from "./Payments.sol";

/// @title Cancellation, refunds, and the organiser's proceeds.
/// @dev Money in the contract = refund reserve (face value of tickets paid on chain) + credits
/// (payments that could not be pushed) + proceeds. Until the event starts, or forever once it is
/// cancelled, the reserve is owed to holders and cannot be withdrawn (see {Payments}).
abstract contract Refunds is Payments {
    /// @notice Refunds open only once the event is cancelled.
    error EventNotCancelled();
    /// @notice An event cannot be cancelled once it has started.
    error EventAlreadyStarted(uint64 startTime);
    /// @notice The ticket was airdropped, not paid on chain, so it has no on-chain refund.
    error NotRefundable(uint256 tokenId);
    /// @notice More than the withdrawable proceeds was asked for: the rest is owed to refunds or credits.
    error ExceedsWithdrawable(uint256 amount, uint256 available);

    /// @notice Cancels the event (only before it starts): sales and transfers stop, refunds open.
    function cancelEvent() external onlyRole(DEFAULT_ADMIN_ROLE) {
        _requireNotCancelled();
        if (block.timestamp >= _eventStart()) revert EventAlreadyStarted(_eventStart());
        _markCancelled();
        emit EventCancelled(block.timestamp);
    }

    /// @notice Burns your tickets of a cancelled event and pays you their face value.
    /// @return total The amount refunded.
    function claimRefund(uint256[] calldata tokenIds) external nonReentrant returns (uint256 total) {
        if (!_isCancelled()) revert EventNotCancelled();
        for (uint256 i; i < tokenIds.length; ++i) {
            uint256 tokenId = tokenIds[i];
            if (_ownerOf(tokenId) != msg.sender) revert NotTicketOwner(tokenId, msg.sender);
            uint96 extra = _getExtraData(tokenId);
            if (extra & _PAID == 0) revert NotRefundable(tokenId);
            total += _refund(tokenId, msg.sender, extra);
        }
        _takeFromRefundReserve(total);
        Address.sendValue(payable(msg.sender), total);
    }

    /// @notice Refunds tickets of a cancelled event to their holders (organiser push). Tickets
    /// already refunded or not paid on chain are skipped, so a batch can be re-sent after a crash.
    /// @return refunded How many tickets this call refunded.
    function refundBatch(uint256[] calldata tokenIds)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
        nonReentrant
        returns (uint256 refunded)
    {
        if (!_isCancelled()) revert EventNotCancelled();
        uint256 total;
        for (uint256 i; i < tokenIds.length; ++i) {
            uint256 tokenId = tokenIds[i];
            address holder = _ownerOf(tokenId);
            if (holder == address(0)) continue;
            uint96 extra = _getExtraData(tokenId);
            if (extra & _PAID == 0) continue;
            uint256 amount = _refund(tokenId, holder, extra);
            total += amount;
            _pay(holder, amount);
            ++refunded;
        }
        _takeFromRefundReserve(total); // once per batch: one storage write, not one per ticket
    }

    /// @notice Sends `amount` of the organiser's proceeds to `to`; never money owed to refunds or credits.
    function withdrawProceeds(address payable to, uint256 amount) external onlyRole(DEFAULT_ADMIN_ROLE) nonReentrant {
        uint256 available = withdrawableProceeds();
        if (amount > available) revert ExceedsWithdrawable(amount, available);
        emit ProceedsWithdrawn(to, amount);
        Address.sendValue(to, amount);
    }

    /// @notice What the organiser may withdraw now.
    function withdrawableProceeds() public view returns (uint256) {
        return address(this).balance - owed();
    }

    /// @dev Burns `tokenId` (its `extra` data read by the caller, paid on chain) and returns its face value.
    function _refund(uint256 tokenId, address holder, uint96 extra) private returns (uint256 amount) {
        amount = _faceValueOf(extra & _TIER_MASK);
        _burn(tokenId);
        emit Refunded(tokenId, holder, amount);
    }
}
