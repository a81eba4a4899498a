// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {SafeTransferLib} from "solady/src/utils/SafeTransferLib.sol";
import {TicketBase} from "./TicketBase.sol";

/// @title What the collection owes: the refund reserve, and credits for payments that could not be pushed.
/// @dev The only module that touches these balances; the sale adds to the reserve with
/// {_addToRefundReserve}, refunds take from it with {_takeFromRefundReserve}, and every payment out
/// goes through {_pay}.
abstract contract Payments is TicketBase {
    uint256 private _refundReserve; // face value of tickets paid on chain and not refunded
    uint256 private _creditsTotal; // sum of `_credits`
    mapping(address account => uint256) private _credits; // payments that could not be pushed

    /// @notice Nothing is credited to this account.
    error NothingToWithdraw(address account);

    /// @notice Pays out what was credited to you (royalties or refunds that could not be pushed).
    function withdrawCredit() external nonReentrant {
        uint256 amount = _credits[msg.sender];
        if (amount == 0) revert NothingToWithdraw(msg.sender);
        _credits[msg.sender] = 0;
        _creditsTotal -= amount;
        emit CreditWithdrawn(msg.sender, amount);
        Address.sendValue(payable(msg.sender), amount);
    }

    /// @notice What the contract owes: credits, plus the refund reserve while refunds are possible.
    function owed() public view returns (uint256) {
        bool refundable = _isCancelled() || block.timestamp < _eventStart();
        return _creditsTotal + (refundable ? _refundReserve : 0);
    }

    /// @notice The face value of tickets paid on chain and not refunded.
    function refundReserve() external view returns (uint256) {
        return _refundReserve;
    }

    /// @notice What `account` can collect with {withdrawCredit}.
    function creditOf(address account) external view returns (uint256) {
        return _credits[account];
    }

    /// @dev `amount` was paid on chain for tickets: it stays refundable until the event starts.
    function _addToRefundReserve(uint256 amount) internal {
        // Cannot overflow: the reserve never exceeds the ether this contract received.
        unchecked {
            _refundReserve += amount;
        }
    }

    /// @dev `amount` of the reserve was refunded.
    function _takeFromRefundReserve(uint256 amount) internal {
        // Cannot underflow: `amount` is the face value of tickets paid on chain, all counted in the reserve.
        unchecked {
            _refundReserve -= amount;
        }
    }

    /// @dev Pays `amount` to `account` with a stipend too small to re-enter; if that fails (a contract
    /// that rejects or needs more gas), the amount is credited for {withdrawCredit}. Nobody can block
    /// a sale or a refund batch by refusing money.
    function _pay(address account, uint256 amount) internal {
        if (amount == 0) return;
        if (!SafeTransferLib.trySafeTransferETH(account, amount, SafeTransferLib.GAS_STIPEND_NO_STORAGE_WRITES)) {
            _credits[account] += amount;
            _creditsTotal += amount;
            emit PaymentCredited(account, amount);
        }
    }
}
