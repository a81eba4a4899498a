// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {IAttendanceBadge} from "../interfaces/IAttendanceBadge.sol";
import {Payments} from "./Payments.sol";

/// @title Tiers, the on-chain primary sale with its presale rule, and organiser airdrops.
/// @dev Owns the tiers, the token id counter and the per-wallet purchase counts; the other modules
/// read a tier's face value through {_faceValueOf}.
abstract contract PrimarySale is Payments {
    // A mapping and a count rather than an array: a ticket's tier always exists, so reading its face value
    // needs no bounds check (the array's would cost a cold SLOAD of its length, 2,100 gas, on every
    // refund and listing); {_tier} checks ids that come from callers.
    mapping(uint256 tierId => Tier) private _tiers;
    uint256 private _tierCount;
    uint256 private _totalMinted;
    mapping(uint256 tierId => mapping(address wallet => uint256)) private _bought;

    /// @notice A tier needs a supply above zero.
    error ZeroSupply();
    /// @notice The sale window ends before it starts.
    error InvalidSaleWindow(uint64 saleStart, uint64 saleEnd);
    /// @notice A collection has at most `limit` (65,536) tiers.
    error TooManyTiers(uint256 limit);
    /// @notice A tier's face value cannot change once a ticket of it exists.
    error FaceValueLocked(uint256 tierId, uint256 minted);
    /// @notice A tier's supply cannot drop below what is minted.
    error SupplyBelowMinted(uint256 tierId, uint32 supply, uint32 minted);
    /// @notice A presale rule needs at most as many badges as events, and a badge contract.
    error InvalidPresaleRule(uint32 minEvents, uint256 eventCount);
    /// @notice Buy or mint at least one ticket.
    error ZeroQuantity();
    /// @notice The tier's sale window is not open.
    error SaleNotOpen(uint256 tierId, uint64 saleStart, uint64 saleEnd);
    /// @notice Not enough tickets left in the tier.
    error SoldOut(uint256 tierId, uint256 requested, uint256 remaining);
    /// @notice This wallet would exceed the tier's per-wallet cap.
    error WalletCapExceeded(uint256 tierId, address wallet, uint32 maxPerWallet);
    /// @notice The presale is on and the buyer is not eligible (badges or Merkle proof).
    error PresaleNotEligible(uint256 tierId, address buyer);

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
        if (minEvents > eventIds.length || (minEvents != 0 && _badgeContract() == address(0))) {
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

    /// @notice Number of tiers; tier ids run from 0 to tierCount() - 1.
    function tierCount() external view returns (uint256) {
        return _tierCount;
    }

    /// @notice A tier with its sales count and presale rule.
    function tier(uint256 tierId) external view returns (Tier memory) {
        return _tier(tierId);
    }

    /// @notice Tickets minted so far; token ids run from 1 to totalMinted() (refunded ones are burned).
    function totalMinted() external view returns (uint256) {
        return _totalMinted;
    }

    /// @notice Primary purchases of `wallet` in `tierId` (counted against the per-wallet cap).
    function boughtBy(uint256 tierId, address wallet) external view returns (uint256) {
        return _bought[tierId][wallet];
    }

    /// @dev For a tier id read from a ticket, so an existing tier: unchecked.
    function _faceValueOf(uint256 tierId) internal view override returns (uint96) {
        return _tiers[tierId].faceValue;
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
        _addToRefundReserve(price);
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
        return minEvents != 0 && IAttendanceBadge(_badgeContract()).attendedCount(buyer, t.presaleEvents) >= minEvents;
    }

    function _addTier(TierConfig memory config) internal override returns (uint256 tierId) {
        _validateTier(config);
        tierId = _tierCount;
        if (tierId > _TIER_MASK) revert TooManyTiers(uint256(_TIER_MASK) + 1);
        _tierCount = tierId + 1;
        _writeTier(_tiers[tierId], config);
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

    function _tier(uint256 tierId) private view returns (Tier storage) {
        if (tierId >= _tierCount) revert TierDoesNotExist(tierId);
        return _tiers[tierId];
    }

    /// @dev Takes `quantity` tickets of `tierId` out of its supply; returns the first of the
    /// consecutive token ids they will have.
    function _allocate(uint256 tierId, uint256 quantity) private returns (uint256 first) {
        Tier storage t = _tier(tierId);
        uint256 remaining = t.supply - t.minted;
        if (quantity == 0) revert ZeroQuantity();
        if (quantity > remaining) revert SoldOut(tierId, quantity, remaining);
        t.minted += uint32(quantity);
        first = _totalMinted + 1;
        _totalMinted += quantity;
    }

    function _validateTier(TierConfig memory config) private pure {
        if (config.supply == 0) revert ZeroSupply();
        if (config.saleEnd <= config.saleStart) revert InvalidSaleWindow(config.saleStart, config.saleEnd);
    }
}
