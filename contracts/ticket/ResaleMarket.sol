// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {TicketBase} from "./TicketBase.sol";

/// @title The resale market inside the collection, and gateway transfers.
/// @dev Both paths cap the price against FACE VALUE (never the last price, so the cap cannot
/// compound). The market pays the seller the price less the ERC-2981 royalty and the royalty
/// receiver the rest; gateway transfers are paid off chain, so the gateway declares the price.
abstract contract ResaleMarket is TicketBase, EIP712, Nonces {
    /// @notice The EIP-712 type a holder signs to let the gateway move one ticket.
    bytes32 public constant GATEWAY_TRANSFER_TYPEHASH =
        keccak256("GatewayTransfer(uint256 tokenId,address to,uint256 price,uint256 nonce,uint256 deadline)");

    /// @notice Lists your ticket for resale at `price` (at most {resaleCapOf}). Re-listing changes the price.
    function list(uint256 tokenId, uint256 price) external {
        if (_ownerOf(tokenId) != msg.sender) revert NotTicketOwner(tokenId, msg.sender);
        uint96 extra = _getExtraData(tokenId);
        if (extra & _USED != 0) revert TicketAlreadyUsed(tokenId);
        _requireTransfersOpen(tokenId);
        uint256 cap = _capOf(extra);
        if (price > cap) revert PriceAboveCap(tokenId, price, cap);
        _listings[tokenId] = Listing(msg.sender, SafeCast.toUint96(price));
        emit Listed(tokenId, msg.sender, price);
    }

    /// @notice Withdraws your listing of `tokenId`.
    function cancelListing(uint256 tokenId) external {
        if (_listings[tokenId].seller != msg.sender) revert NotListed(tokenId);
        delete _listings[tokenId];
        emit ListingCancelled(tokenId);
    }

    /// @notice Buys a listed ticket at its listed price, if that is at most `maxPrice` (what the buyer
    /// saw: a seller re-listing higher in front of the purchase cannot take more); any excess payment
    /// is returned. Refused while paused (by the transfer rule).
    function buyResale(uint256 tokenId, uint256 maxPrice) external payable nonReentrant {
        Listing memory listing = _listings[tokenId];
        if (listing.seller == address(0)) revert NotListed(tokenId);
        if (listing.price > maxPrice) revert ListingAboveMaxPrice(tokenId, listing.price, maxPrice);
        if (msg.value < listing.price) revert InsufficientPayment(listing.price, msg.value);
        _moving = _MOVE_MARKET;
        _transfer(listing.seller, msg.sender, tokenId); // the transfer rule deletes the listing
        _moving = _MOVE_NONE;
        (address receiver, uint256 royalty) = royaltyInfo(tokenId, listing.price);
        emit ResaleBought(tokenId, listing.seller, msg.sender, listing.price, royalty);
        _pay(receiver, royalty);
        _pay(listing.seller, listing.price - royalty);
        _pay(msg.sender, msg.value - listing.price);
    }

    /// @notice Moves `tokenId` to `to` on the holder's EIP-712 {GATEWAY_TRANSFER_TYPEHASH} signature,
    /// for a `price` paid off chain, which is checked against the cap and emitted. At price 0 it is a
    /// gift: refused when the collection does not allow gifts. Like every transfer, refused while paused.
    function gatewayTransfer(uint256 tokenId, address to, uint256 price, uint256 deadline, bytes calldata signature)
        external
        onlyRole(GATEWAY_ROLE)
    {
        if (block.timestamp > deadline) revert AuthorizationExpired(deadline);
        address from = _ownerOf(tokenId);
        if (from == address(0)) revert TicketDoesNotExist(tokenId);
        bytes32 digest = _hashTypedDataV4(
            keccak256(abi.encode(GATEWAY_TRANSFER_TYPEHASH, tokenId, to, price, _useNonce(from), deadline))
        );
        address signer = ECDSA.recover(digest, signature);
        if (signer != from) revert InvalidHolderSignature(tokenId, signer);
        uint256 cap = _capOf(_getExtraData(tokenId));
        if (price > cap) revert PriceAboveCap(tokenId, price, cap);
        _moving = price == 0 ? _MOVE_GATEWAY_GIFT : _MOVE_GATEWAY;
        _transfer(from, to, tokenId);
        _moving = _MOVE_NONE;
        emit GatewayTransferred(tokenId, from, to, price);
    }

    /// @notice The EIP-712 domain separator of this collection (differs per clone).
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }
}
