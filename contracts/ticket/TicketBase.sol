// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC721} from "solady/src/tokens/ERC721.sol";
import {LibString} from "solady/src/utils/LibString.sol";
import {SafeTransferLib} from "solady/src/utils/SafeTransferLib.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC2981} from "@openzeppelin/contracts/token/common/ERC2981.sol";
import {IERC4906} from "@openzeppelin/contracts/interfaces/IERC4906.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {ITicketCollection} from "../interfaces/ITicketCollection.sol";

/// @title State and the one transfer rule shared by every part of a ticket collection.
/// @dev Built on solady's ERC721 because it packs 96 bits of per-token data into the owner's slot:
/// a ticket's tier, "used" and "paid on chain" flags live there, so minting writes one slot per
/// ticket and check-in rewrites a slot already read (no extra cold slot). Every movement of a token
/// (mint, burn, transferFrom, both safeTransferFrom) passes `_beforeTokenTransfer`, where the
/// transfer policy is enforced once.
abstract contract TicketBase is ERC721, AccessControl, ERC2981, Pausable, ReentrancyGuardTransient, ITicketCollection {
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

    struct Listing {
        address seller;
        uint96 price;
    }

    string internal _name;
    string internal _symbol;
    string internal _baseTokenURI;
    uint64 internal _startTime;
    uint64 internal _transferLockTime;
    uint16 internal _resaleCapBps;
    bool internal _giftsAllowed;
    bool internal _cancelled;
    // The pause flag, here instead of Pausable's own slot: every transfer and purchase reads this slot
    // (lock time, cancelled) anyway, so checking the pause costs no extra cold SLOAD (2,100 gas).
    bool internal _pausedFlag;
    address internal _badge;

    Tier[] internal _tiers;
    uint256 internal _totalMinted;
    mapping(uint256 tierId => mapping(address wallet => uint256)) internal _bought;
    mapping(uint256 tokenId => Listing) internal _listings;

    uint256 internal _refundReserve; // face value of tickets paid on chain and not refunded
    uint256 internal _creditsTotal; // sum of `_credits`
    mapping(address account => uint256) internal _credits; // payments that could not be pushed

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
    function paused() public view override returns (bool) {
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

    /// @notice Number of tiers; tier ids run from 0 to tierCount() - 1.
    function tierCount() external view returns (uint256) {
        return _tiers.length;
    }

    /// @notice A tier with its sales count and presale rule.
    function tier(uint256 tierId) external view returns (Tier memory) {
        return _tier(tierId);
    }

    /// @notice Tickets minted so far; token ids run from 1 to totalMinted() (refunded ones are burned).
    function totalMinted() external view returns (uint256) {
        return _totalMinted;
    }

    /// @notice Everything about one ticket: owner, tier, face value, used, listing.
    function ticket(uint256 tokenId) external view returns (TicketInfo memory info) {
        address owner = _ownerOf(tokenId);
        if (owner == address(0)) revert TicketDoesNotExist(tokenId);
        uint96 extra = _getExtraData(tokenId);
        uint16 tierId = uint16(extra & _TIER_MASK);
        Listing memory listing = _listings[tokenId];
        bool used = extra & _USED != 0;
        // A listing that can no longer be bought (checked in, transfers locked, cancelled) is not shown.
        bool buyable = !used && !_cancelled && block.timestamp < _transferLockTime;
        info = TicketInfo({
            owner: owner,
            tierId: tierId,
            faceValue: _tiers[tierId].faceValue,
            used: used,
            paidOnChain: extra & _PAID != 0,
            listedBy: buyable ? listing.seller : address(0),
            listedPrice: buyable ? listing.price : 0
        });
    }

    /// @notice The highest price `tokenId` may change hands for: face value x resale cap.
    function resaleCapOf(uint256 tokenId) public view returns (uint256) {
        return _capOf(_extraOf(tokenId));
    }

    /// @notice Primary purchases of `wallet` in `tierId` (counted against the per-wallet cap).
    function boughtBy(uint256 tierId, address wallet) external view returns (uint256) {
        return _bought[tierId][wallet];
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
        if (_listings[tokenId].seller != address(0)) {
            delete _listings[tokenId];
            emit ListingCancelled(tokenId);
        }
    }

    // ---------------------------------------------------------------- helpers

    function _requireTransfersOpen(uint256 tokenId) internal view {
        if (_cancelled) revert EventIsCancelled();
        if (block.timestamp >= _transferLockTime) revert TransfersLocked(tokenId, _transferLockTime);
    }

    function _requireNotCancelled() internal view {
        if (_cancelled) revert EventIsCancelled();
    }

    function _tier(uint256 tierId) internal view returns (Tier storage) {
        if (tierId >= _tiers.length) revert TierDoesNotExist(tierId);
        return _tiers[tierId];
    }

    function _extraOf(uint256 tokenId) internal view returns (uint96) {
        if (!_exists(tokenId)) revert TicketDoesNotExist(tokenId);
        return _getExtraData(tokenId);
    }

    function _capOf(uint96 extra) internal view returns (uint256) {
        return uint256(_tiers[extra & _TIER_MASK].faceValue) * _resaleCapBps / 10_000;
    }

    /// @dev Takes `quantity` tickets of `tierId` out of its supply; returns the first of the
    /// consecutive token ids they will have.
    function _allocate(uint256 tierId, uint256 quantity) internal returns (uint256 first) {
        Tier storage t = _tier(tierId);
        uint256 remaining = t.supply - t.minted;
        if (quantity == 0) revert ZeroQuantity();
        if (quantity > remaining) revert SoldOut(tierId, quantity, remaining);
        t.minted += uint32(quantity);
        first = _totalMinted + 1;
        _totalMinted += quantity;
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
