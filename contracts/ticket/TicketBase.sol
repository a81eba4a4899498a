// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC721} from "solady/src/tokens/ERC721.sol";
import {LibString} from "solady/src/utils/LibString.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC2981} from "@openzeppelin/contracts/token/common/ERC2981.sol";
import {IERC4906} from "@openzeppelin/contracts/interfaces/IERC4906.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Initializable} from "@openzeppelin/contracts/proxy/utils/Initializable.sol";
import {ITicketCollection} from "../interfaces/ITicketCollection.sol";

/// @title The event's settings and the one transfer rule shared by every part of a ticket collection.
/// @dev Built on solady's ERC721 because it packs 96 bits of per-token data into the owner's slot:
/// a ticket's tier, "used" and "paid on chain" flags live there, so minting writes one slot per
/// ticket and check-in rewrites a slot already read (no extra cold slot). Every movement of a token
/// (mint, burn, transferFrom, both safeTransferFrom) passes `_beforeTokenTransfer`, where the
/// transfer policy is enforced once.
/// Each module owns its state, private, and offers internal functions to the others: this one the
/// event's settings; {PrimarySale} the tiers and sales counts; {ResaleMarket} the listings and the
/// resale cap rule; {Payments} the refund reserve and the credits. What this contract needs from a
/// module it declares below as an unimplemented internal function, which that module implements.
abstract contract TicketBase is
    ERC721,
    AccessControl,
    ERC2981,
    Pausable,
    ReentrancyGuardTransient,
    Initializable,
    ITicketCollection
{
    /// @notice May mint (airdrop) tickets without payment.
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");
    /// @notice May check tickets in.
    bytes32 public constant GATE_ROLE = keccak256("GATE_ROLE");
    /// @notice May move tickets on a holder's signed authorization (custody for fans without a wallet).
    bytes32 public constant GATEWAY_ROLE = keccak256("GATEWAY_ROLE");

    /// @notice Reasons carried by {CheckInSkipped}.
    uint8 public constant SKIP_NOT_FOUND = 1;
    uint8 public constant SKIP_ALREADY_USED = 2;

    // Per-token extra data (96 bits, packed beside the owner): [0..15] tier id, [16] used, [17] paid.
    uint96 internal constant _TIER_MASK = 0xffff;
    uint96 internal constant _USED = 1 << 16;
    uint96 internal constant _PAID = 1 << 17;

    // Which privileged path is moving a token right now; cleared after each move.
    uint8 internal constant _MOVE_NONE = 0;
    uint8 internal constant _MOVE_MARKET = 1;
    uint8 internal constant _MOVE_GATEWAY = 2;
    uint8 internal constant _MOVE_GATEWAY_GIFT = 3; // a gateway transfer at price 0
    uint8 internal transient _moving;

    // ERC-4906 has no functions, so `type(IERC4906).interfaceId` is zero: the EIP fixes this id (as
    // OpenZeppelin's ERC721URIStorage does).
    bytes4 internal constant _ERC4906_INTERFACE_ID = bytes4(0x49064906);

    string private _name;
    string private _symbol;
    string private _baseTokenURI;
    // One slot: every transfer and purchase reads it, so each of these costs at most one cold SLOAD.
    uint64 private _startTime;
    uint64 private _transferLockTime;
    uint16 private _resaleCapBps;
    bool private _giftsAllowed;
    bool private _cancelled;
    // The pause flag, here instead of Pausable's own slot: every transfer and purchase reads this slot
    // (lock time, cancelled) anyway, so checking the pause costs no extra cold SLOAD (2,100 gas).
    bool private _pausedFlag;
    address private _badge;

    /// @notice The resale cap must be at least 100% of face value (10,000 basis points).
    error ResaleCapBelowFaceValue(uint16 resaleCapBps);
    /// @notice A collection's start time must be in the future.
    error StartTimeInPast(uint64 startTime, uint256 now);

    // ---------------------------------------------------------------- set-up

    /// @notice Sets up a clone for `organiser`, who receives the admin, minter and gate roles; the
    /// tiers are added by {PrimarySale}.
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

    // ---------------------------------------------------------------- metadata

    /// @inheritdoc ERC721
    function name() public view override returns (string memory) {
        return _name;
    }

    /// @inheritdoc ERC721
    function symbol() public view override returns (string memory) {
        return _symbol;
    }

    /// @inheritdoc ERC721
    function tokenURI(uint256 tokenId) public view override returns (string memory) {
        if (!_exists(tokenId)) revert TicketDoesNotExist(tokenId);
        return string.concat(_baseTokenURI, LibString.toString(tokenId));
    }

    /// @notice Sets the prefix of every token URI; wallets are told to read every ticket's metadata again
    /// (ERC-4906 `BatchMetadataUpdate` over all token ids, 1 to 2^256 - 1).
    function setBaseURI(string calldata baseURI) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _baseTokenURI = baseURI;
        emit IERC4906.BatchMetadataUpdate(1, type(uint256).max);
    }

    /// @notice Stops primary and resale purchases, and every transfer (market, gateway, gifts), until
    /// {unpause}. Refunds, check-in and the organiser's airdrops go on.
    function pause() external onlyRole(DEFAULT_ADMIN_ROLE) {
        _pause();
    }

    /// @notice Resumes purchases and transfers.
    function unpause() external onlyRole(DEFAULT_ADMIN_ROLE) {
        _unpause();
    }

    /// @inheritdoc Pausable
    function paused() public view override(Pausable, ITicketCollection) returns (bool) {
        return _pausedFlag;
    }

    function _pause() internal override whenNotPaused {
        _pausedFlag = true;
        emit Paused(_msgSender());
    }

    function _unpause() internal override whenPaused {
        _pausedFlag = false;
        emit Unpaused(_msgSender());
    }

    /// @inheritdoc ERC721
    function supportsInterface(bytes4 interfaceId)
        public
        view
        override(ERC721, AccessControl, ERC2981)
        returns (bool)
    {
        return interfaceId == _ERC4906_INTERFACE_ID || ERC721.supportsInterface(interfaceId)
            || AccessControl.supportsInterface(interfaceId) || ERC2981.supportsInterface(interfaceId);
    }

    // ---------------------------------------------------------------- views

    /// @notice The event's settings: start, transfer lock, resale cap, gift policy, badge, cancelled.
    function eventInfo()
        external
        view
        returns (
            uint64 startTime,
            uint64 transferLockTime,
            uint16 resaleCapBps,
            bool giftsAllowed,
            address badge,
            bool cancelled
        )
    {
        return (_startTime, _transferLockTime, _resaleCapBps, _giftsAllowed, _badge, _cancelled);
    }

    /// @notice Everything about one ticket: owner, tier, face value, used, listing.
    function ticket(uint256 tokenId) external view returns (TicketInfo memory info) {
        address owner = _ownerOf(tokenId);
        if (owner == address(0)) revert TicketDoesNotExist(tokenId);
        uint96 extra = _getExtraData(tokenId);
        uint16 tierId = uint16(extra & _TIER_MASK);
        (address seller, uint96 price) = _listingOf(tokenId);
        bool used = extra & _USED != 0;
        // A listing that can no longer be bought (checked in, transfers locked, cancelled) is not shown.
        bool buyable = !used && !_cancelled && block.timestamp < _transferLockTime;
        info = TicketInfo({
            owner: owner,
            tierId: tierId,
            faceValue: _faceValueOf(tierId),
            used: used,
            paidOnChain: extra & _PAID != 0,
            listedBy: buyable ? seller : address(0),
            listedPrice: buyable ? price : 0
        });
    }

    // ---------------------------------------------------------------- approvals are closed

    /// @dev No third party may move a ticket, so approvals would only mislead marketplaces.
    function approve(address, uint256) public payable override {
        revert ApprovalsDisabled();
    }

    /// @dev See {approve}.
    function setApprovalForAll(address, bool) public pure override {
        revert ApprovalsDisabled();
    }

    // ---------------------------------------------------------------- the transfer rule

    /// @dev The one rule for every movement. Mints and burns are gated by the functions that make
    /// them. A transfer is allowed only while the event is live and before the transfer lock, never
    /// for a used ticket, never while the collection is paused, and only through the resale market,
    /// the gateway (price declared and capped), or, if the collection allows gifts, by the holder in
    /// person. With gifts off nothing moves for free: a gateway transfer at price 0 is a gift too. Any
    /// listing dies with a transfer or a burn (a refund), so a refunded ticket is never left listed.
    function _beforeTokenTransfer(address from, address to, uint256 tokenId) internal override {
        if (from == address(0)) return;
        if (to != address(0)) {
            if (_getExtraData(tokenId) & _USED != 0) revert TicketAlreadyUsed(tokenId);
            _requireTransfersOpen(tokenId);
            _requireNotPaused();
            uint8 moving = _moving;
            if (moving == _MOVE_NONE) {
                if (msg.sender != from) revert TransferNotAllowed(tokenId, msg.sender);
                if (!_giftsAllowed) revert GiftsNotAllowed(tokenId);
                // solady's transferFrom is payable; ETH sent with a gift would be stranded here.
                if (msg.value != 0) revert UnexpectedPayment(msg.value);
            } else if (moving == _MOVE_GATEWAY_GIFT && !_giftsAllowed) {
                revert GiftsNotAllowed(tokenId);
            }
        }
        _endListing(tokenId);
    }

    // ---------------------------------------------------------------- what the modules provide

    /// @dev Validates and adds a tier; returns its id. Implemented by {PrimarySale}.
    function _addTier(TierConfig memory config) internal virtual returns (uint256 tierId);

    /// @dev The face value of tier `tierId` (an existing tier). Implemented by {PrimarySale}.
    function _faceValueOf(uint256 tierId) internal view virtual returns (uint96);

    /// @dev The resale listing of `tokenId` (seller zero: none). Implemented by {ResaleMarket}.
    function _listingOf(uint256 tokenId) internal view virtual returns (address seller, uint96 price);

    /// @dev Ends any listing of `tokenId`: called by the transfer rule on every move and burn. Implemented
    /// by {ResaleMarket}.
    function _endListing(uint256 tokenId) internal virtual;

    // ---------------------------------------------------------------- the event's settings, for the modules

    /// @dev Marks the event cancelled (for good).
    function _markCancelled() internal {
        _cancelled = true;
    }

    function _isCancelled() internal view returns (bool) {
        return _cancelled;
    }

    function _eventStart() internal view returns (uint64) {
        return _startTime;
    }

    function _resaleCap() internal view returns (uint16) {
        return _resaleCapBps;
    }

    function _badgeContract() internal view returns (address) {
        return _badge;
    }

    function _requireTransfersOpen(uint256 tokenId) internal view {
        // Both read before either check: the optimizer then loads their shared slot once, not twice.
        bool cancelled = _cancelled;
        uint64 lockTime = _transferLockTime;
        if (cancelled) revert EventIsCancelled();
        if (block.timestamp >= lockTime) revert TransfersLocked(tokenId, lockTime);
    }

    function _requireNotCancelled() internal view {
        if (_cancelled) revert EventIsCancelled();
    }

    function _extraOf(uint256 tokenId) internal view returns (uint96) {
        if (!_exists(tokenId)) revert TicketDoesNotExist(tokenId);
        return _getExtraData(tokenId);
    }
}
