// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {IAttendanceBadge} from "../interfaces/IAttendanceBadge.sol";
import {TicketBase} from "./TicketBase.sol";

/// @title Tiers, the on-chain primary sale with its presale rule, and organiser airdrops.
abstract contract PrimarySale is TicketBase {
    /// @notice Adds a tier; returns its id.
    function addTier(TierConfig calldata config) external onlyRole(DEFAULT_ADMIN_ROLE) returns (uint256 tierId) {
        return _addTier(config);
    }

    /// @notice Changes a tier. Its face value is frozen once a ticket of it exists, and its supply
    /// cannot drop below what is minted.
    function updateTier(uint256 tierId, TierConfig calldata config) external onlyRole(DEFAULT_ADMIN_ROLE) {
        Tier storage t = _tier(tierId);
        _validateTier(config);
        if (t.minted != 0 && config.faceValue != t.faceValue) revert FaceValueLocked(tierId, t.minted);
        if (config.supply < t.minted) revert SupplyBelowMinted(tierId, config.supply, t.minted);
        _writeTier(t, config);
        emit TierUpdated(tierId);
    }

    /// @notice Sets (or, with `endsAt` in the past, closes) a tier's presale. Until `endsAt`, only a
    /// buyer holding badges of at least `minEvents` of `eventIds`, or listed under `merkleRoot`
    /// (leaves: keccak256(keccak256(abi.encode(buyer)))), may buy.
    function setPresale(
        uint256 tierId,
        uint64 endsAt,
        uint32 minEvents,
        uint64[] calldata eventIds,
        bytes32 merkleRoot
    ) external onlyRole(DEFAULT_ADMIN_ROLE) {
        Tier storage t = _tier(tierId);
        if (minEvents > eventIds.length || (minEvents != 0 && _badge == address(0))) {
            revert InvalidPresaleRule(minEvents, eventIds.length);
        }
        t.presaleEnd = endsAt;
        t.presaleMinEvents = minEvents;
        t.presaleEvents = eventIds;
        t.presaleRoot = merkleRoot;
        emit PresaleSet(tierId, endsAt, minEvents, eventIds, merkleRoot);
    }

    /// @notice Buys `quantity` tickets of `tierId` at face value; any excess payment is returned.
    /// @return firstTokenId The first of the consecutive token ids bought.
    function buy(uint256 tierId, uint256 quantity) external payable returns (uint256 firstTokenId) {
        return _buy(tierId, quantity, new bytes32[](0));
    }

    /// @notice Like {buy}, for a presale buyer who proves membership of the tier's Merkle snapshot.
    function buyWithProof(uint256 tierId, uint256 quantity, bytes32[] calldata proof)
        external
        payable
        returns (uint256 firstTokenId)
    {
        return _buy(tierId, quantity, proof);
    }

    /// @notice Mints one ticket of `tierId` to each recipient (repeat an address for several), free:
    /// for tickets sold off chain or given away. Not refundable on chain. Not counted against the
    /// tier's per-wallet cap, which limits purchases: what the organiser airdrops is the organiser's call.
    /// @return firstTokenId Recipient i receives token firstTokenId + i.
    function mintBatch(uint256 tierId, address[] calldata recipients)
        external
        onlyRole(MINTER_ROLE)
        returns (uint256 firstTokenId)
    {
        _requireNotCancelled();
        firstTokenId = _allocate(tierId, recipients.length);
        uint96 extra = uint96(tierId);
        for (uint256 i; i < recipients.length; ++i) {
            _mintAndSetExtraDataUnchecked(recipients[i], firstTokenId + i, extra);
        }
        emit TicketsMinted(tierId, firstTokenId, recipients.length);
    }

    /// @notice Whether `buyer` passes the presale rule of `tierId` by badges alone (no proof).
    function presaleEligible(uint256 tierId, address buyer) external view returns (bool) {
        return _presaleEligible(_tier(tierId), buyer, new bytes32[](0));
    }

    function _buy(uint256 tierId, uint256 quantity, bytes32[] memory proof)
        private
        whenNotPaused
        nonReentrant
        returns (uint256 firstTokenId)
    {
        _requireNotCancelled();
        Tier storage t = _tier(tierId);
        if (block.timestamp < t.saleStart || block.timestamp >= t.saleEnd) {
            revert SaleNotOpen(tierId, t.saleStart, t.saleEnd);
        }
        if (block.timestamp < t.presaleEnd && !_presaleEligible(t, msg.sender, proof)) {
            revert PresaleNotEligible(tierId, msg.sender);
        }
        // Counted even without a cap, so a cap the organiser adds later holds against earlier buys.
        uint256 bought = _bought[tierId][msg.sender] + quantity;
        if (t.maxPerWallet != 0 && bought > t.maxPerWallet) {
            revert WalletCapExceeded(tierId, msg.sender, t.maxPerWallet);
        }
        _bought[tierId][msg.sender] = bought;
        uint256 price = uint256(t.faceValue) * quantity;
        if (msg.value < price) revert InsufficientPayment(price, msg.value);
        _refundReserve += price;
        firstTokenId = _allocate(tierId, quantity);
        uint96 extra = uint96(tierId) | _PAID;
        for (uint256 i; i < quantity; ++i) {
            _mintAndSetExtraDataUnchecked(msg.sender, firstTokenId + i, extra);
        }
        emit TicketsPurchased(msg.sender, tierId, firstTokenId, quantity, price);
        _pay(msg.sender, msg.value - price);
    }

    function _presaleEligible(Tier storage t, address buyer, bytes32[] memory proof) private view returns (bool) {
        // An empty proof is valid when the snapshot holds one address (its leaf is the root).
        if (t.presaleRoot != bytes32(0)) {
            bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(buyer))));
            if (MerkleProof.verify(proof, t.presaleRoot, leaf)) return true;
        }
        uint32 minEvents = t.presaleMinEvents;
        return minEvents != 0 && IAttendanceBadge(_badge).attendedCount(buyer, t.presaleEvents) >= minEvents;
    }

    function _addTier(TierConfig memory config) internal returns (uint256 tierId) {
        _validateTier(config);
        tierId = _tiers.length;
        if (tierId > _TIER_MASK) revert TooManyTiers(uint256(_TIER_MASK) + 1);
        _writeTier(_tiers.push(), config);
        emit TierAdded(tierId, config.name, config.faceValue, config.supply);
    }

    function _writeTier(Tier storage t, TierConfig memory config) private {
        t.name = config.name;
        t.faceValue = config.faceValue;
        t.supply = config.supply;
        t.maxPerWallet = config.maxPerWallet;
        t.saleStart = config.saleStart;
        t.saleEnd = config.saleEnd;
    }

    function _validateTier(TierConfig memory config) private pure {
        if (config.supply == 0) revert ZeroSupply();
        if (config.saleEnd <= config.saleStart) revert InvalidSaleWindow(config.saleStart, config.saleEnd);
    }
}
