// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC721} from "solady/src/tokens/ERC721.sol";
import {LibString} from "solady/src/utils/LibString.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Initializable} from "@openzeppelin/contracts/proxy/utils/Initializable.sol";
import {IERC4906} from "@openzeppelin/contracts/interfaces/IERC4906.sol";
import {IERC5192} from "./interfaces/IERC5192.sol";
import {IAttendanceBadge} from "./interfaces/IAttendanceBadge.sol";

/// @title Soulbound (ERC-5192) proof of attendance, one contract per organiser.
/// @notice Each of the organiser's events is an issuer (its ticket collection) with an event id.
/// A badge's token id is `eventId << 160 | holder`, so "one badge per (event, holder)" and "did
/// holder attend event e" need no storage beyond the token itself.
/// @dev solady's ERC721 keeps a token's extra data through a burn; a revoked badge keeps a flag
/// there, so it is never minted again, at no extra storage cost.
contract AttendanceBadge is ERC721, AccessControl, Initializable, IERC5192, IAttendanceBadge {
    /// @notice May register issuers (the factory, and the organiser).
    bytes32 public constant REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");

    uint96 private constant _REVOKED = 1;
    // ERC-4906 has no functions, so `type(IERC4906).interfaceId` is zero: the EIP fixes this id.
    bytes4 private constant _ERC4906_INTERFACE_ID = bytes4(0x49064906);

    string private _name;
    string private _symbol;
    string private _baseTokenURI;
    uint64 private _eventCount;
    mapping(address issuer => uint64 eventId) private _eventOf;
    mapping(uint64 eventId => address issuer) private _issuerOf;

    /// @notice Emitted when `issuer` becomes event `eventId`.
    event IssuerRegistered(address indexed issuer, uint64 indexed eventId);
    /// @notice Emitted when the organiser revokes a badge.
    event BadgeRevoked(uint256 indexed tokenId, address indexed holder, uint64 indexed eventId);

    /// @notice Badges never move and cannot be approved.
    error BadgeIsSoulbound(uint256 tokenId);
    /// @notice Only registered issuers mint.
    error NotAnIssuer(address caller);
    /// @notice An issuer is registered once.
    error IssuerAlreadyRegistered(address issuer, uint64 eventId);
    /// @notice The token does not exist.
    error BadgeDoesNotExist(uint256 tokenId);

    constructor() {
        _disableInitializers();
    }

    /// @notice Sets up a clone: `admin` (the organiser) may revoke and register; `registrar` may register.
    function initialize(
        address admin,
        address registrar,
        string calldata name_,
        string calldata symbol_,
        string calldata baseURI
    ) external initializer {
        _name = name_;
        _symbol = symbol_;
        _baseTokenURI = baseURI;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(REGISTRAR_ROLE, admin);
        if (registrar != address(0)) _grantRole(REGISTRAR_ROLE, registrar);
    }

    /// @inheritdoc IAttendanceBadge
    function registerIssuer(address issuer) external onlyRole(REGISTRAR_ROLE) returns (uint64 eventId) {
        if (_eventOf[issuer] != 0) revert IssuerAlreadyRegistered(issuer, _eventOf[issuer]);
        eventId = ++_eventCount;
        _eventOf[issuer] = eventId;
        _issuerOf[eventId] = issuer;
        emit IssuerRegistered(issuer, eventId);
    }

    /// @inheritdoc IAttendanceBadge
    function issue(address[] calldata holders) external returns (uint256 minted) {
        uint64 eventId = _eventOf[msg.sender];
        if (eventId == 0) revert NotAnIssuer(msg.sender);
        for (uint256 i; i < holders.length; ++i) {
            uint256 tokenId = badgeId(eventId, holders[i]);
            if (_ownerOf(tokenId) != address(0) || _getExtraData(tokenId) & _REVOKED != 0) continue;
            _mint(holders[i], tokenId);
            emit Locked(tokenId);
            emit IERC4906.MetadataUpdate(tokenId);
            ++minted;
        }
    }

    /// @notice Sets the prefix of every badge's token URI; wallets are told to read every badge's metadata
    /// again (ERC-4906 `BatchMetadataUpdate` over all token ids).
    function setBaseURI(string calldata baseURI) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _baseTokenURI = baseURI;
        emit IERC4906.BatchMetadataUpdate(0, type(uint256).max);
    }

    /// @notice Burns a badge for good: it no longer counts and is never issued again.
    function revoke(uint256 tokenId) external onlyRole(DEFAULT_ADMIN_ROLE) {
        address holder = _ownerOf(tokenId);
        if (holder == address(0)) revert BadgeDoesNotExist(tokenId);
        _setExtraData(tokenId, _REVOKED);
        _burn(tokenId);
        emit BadgeRevoked(tokenId, holder, uint64(tokenId >> 160));
        emit IERC4906.MetadataUpdate(tokenId);
    }

    /// @inheritdoc IAttendanceBadge
    function attendedCount(address holder, uint64[] calldata eventIds) external view returns (uint256 count) {
        for (uint256 i; i < eventIds.length; ++i) {
            if (_ownerOf(badgeId(eventIds[i], holder)) == holder) ++count;
        }
    }

    /// @notice Whether `holder` holds the badge of `eventId`.
    function hasAttended(address holder, uint64 eventId) external view returns (bool) {
        return holder != address(0) && _ownerOf(badgeId(eventId, holder)) == holder;
    }

    /// @notice The token id of `holder`'s badge for `eventId`.
    function badgeId(uint64 eventId, address holder) public pure returns (uint256) {
        return (uint256(eventId) << 160) | uint160(holder);
    }

    /// @notice The event id of `issuer` (0 if not registered).
    function eventIdOf(address issuer) external view returns (uint64) {
        return _eventOf[issuer];
    }

    /// @notice The issuer (ticket collection) of `eventId`.
    function issuerOf(uint64 eventId) external view returns (address) {
        return _issuerOf[eventId];
    }

    /// @notice How many events have been registered; ids run from 1 to eventCount().
    function eventCount() external view returns (uint64) {
        return _eventCount;
    }

    /// @inheritdoc IERC5192
    function locked(uint256 tokenId) external view returns (bool) {
        if (!_exists(tokenId)) revert BadgeDoesNotExist(tokenId);
        return true;
    }

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
        if (!_exists(tokenId)) revert BadgeDoesNotExist(tokenId);
        return string.concat(_baseTokenURI, LibString.toString(tokenId));
    }

    /// @dev Soulbound: no approvals.
    function approve(address, uint256 tokenId) public payable override {
        revert BadgeIsSoulbound(tokenId);
    }

    /// @dev Soulbound: no approvals.
    function setApprovalForAll(address, bool) public pure override {
        revert BadgeIsSoulbound(0);
    }

    /// @inheritdoc ERC721
    function supportsInterface(bytes4 interfaceId) public view override(ERC721, AccessControl) returns (bool) {
        return interfaceId == type(IERC5192).interfaceId || interfaceId == _ERC4906_INTERFACE_ID
            || ERC721.supportsInterface(interfaceId)
            || AccessControl.supportsInterface(interfaceId);
    }

    /// @dev Mint and burn only; every transfer path reverts.
    function _beforeTokenTransfer(address from, address to, uint256 tokenId) internal pure override {
        if (from != address(0) && to != address(0)) revert BadgeIsSoulbound(tokenId);
    }
}
