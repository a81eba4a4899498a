// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @dev The slice of a ticket collection the attacker uses.
interface ITargetCollection {
    function buy(uint256 tierId, uint256 quantity) external payable returns (uint256 firstTokenId);
    function list(uint256 tokenId, uint256 price) external;
    function buyResale(uint256 tokenId, uint256 maxPrice) external payable;
    function claimRefund(uint256[] calldata tokenIds) external returns (uint256 total);
    function withdrawCredit() external;
}

/// @title Test-only holder contract that re-enters the collection when it is paid.
/// @notice `mode` chooses what receive() does: nothing, reject the payment, or re-enter
/// buyResale / claimRefund / withdrawCredit. With `bubble` the re-entry's revert is re-thrown
/// (so the outer call fails); without it the revert data is kept in `lastError` and the payment
/// is accepted.
contract Attacker {
    enum Mode {
        None,
        Reject,
        ReenterBuyResale,
        ReenterClaimRefund,
        ReenterWithdrawCredit
    }

    error Rejected();

    ITargetCollection public immutable collection;
    Mode public mode;
    bool public bubble;
    uint256 public targetToken;
    uint256 public reentered; // re-entries that succeeded (must stay 0)
    uint256 public paidCount; // payments received with gas to spare (full-gas sends only)
    bytes public lastError;

    constructor(address collection_) payable {
        collection = ITargetCollection(collection_);
    }

    function configure(Mode mode_, uint256 targetToken_, bool bubble_) external {
        mode = mode_;
        targetToken = targetToken_;
        bubble = bubble_;
    }

    function buy(uint256 tierId, uint256 quantity) external payable returns (uint256) {
        return collection.buy{value: msg.value}(tierId, quantity);
    }

    function list(uint256 tokenId, uint256 price) external {
        collection.list(tokenId, price);
    }

    function buyResale(uint256 tokenId) external payable {
        _forward(address(collection), msg.value, abi.encodeCall(ITargetCollection.buyResale, (tokenId, msg.value)));
    }

    function claimRefund(uint256[] calldata tokenIds) external {
        _forward(address(collection), 0, abi.encodeCall(ITargetCollection.claimRefund, (tokenIds)));
    }

    function withdrawCredit() external {
        _forward(address(collection), 0, abi.encodeCall(ITargetCollection.withdrawCredit, ()));
    }

    receive() external payable {
        Mode m = mode;
        if (m == Mode.None) return;
        if (m == Mode.Reject) revert Rejected();
        bytes memory data;
        uint256 value;
        if (m == Mode.ReenterBuyResale) {
            data = abi.encodeCall(ITargetCollection.buyResale, (targetToken, type(uint256).max));
            value = msg.value;
        } else if (m == Mode.ReenterClaimRefund) {
            uint256[] memory ids = new uint256[](1);
            ids[0] = targetToken;
            data = abi.encodeCall(ITargetCollection.claimRefund, (ids));
        } else {
            data = abi.encodeCall(ITargetCollection.withdrawCredit, ());
        }
        (bool ok, bytes memory ret) = address(collection).call{value: value}(data);
        if (ok) {
            ++reentered;
            return;
        }
        if (bubble) {
            assembly ("memory-safe") {
                revert(add(ret, 0x20), mload(ret))
            }
        }
        lastError = ret;
        ++paidCount;
    }

    function _forward(address to, uint256 value, bytes memory data) private {
        (bool ok, bytes memory ret) = to.call{value: value}(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 0x20), mload(ret))
            }
        }
    }
}
