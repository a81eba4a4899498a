// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Clones} from "@openzeppelin/contracts/proxy/Clones.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {ITicketCollection} from "./interfaces/ITicketCollection.sol";
import {IAttendanceBadge} from "./interfaces/IAttendanceBadge.sol";
import {TicketCollection} from "./TicketCollection.sol";
import {AttendanceBadge} from "./AttendanceBadge.sol";

/// @title Makes badges and ticket collections as EIP-1167 clones at predictable addresses.
/// @notice Addresses derive from (caller, salt), so a deploy that is retried finds its earlier result.
contract TicketFactory {
    /// @notice The implementation every collection clone delegates to.
    address public immutable collectionImplementation;
    /// @notice The implementation every badge clone delegates to.
    address public immutable badgeImplementation;

    /// @notice Emitted for each new badge.
    event BadgeCreated(address indexed badge, address indexed organiser, bytes32 salt);
    /// @notice Emitted for each new collection.
    event CollectionCreated(address indexed collection, address indexed organiser, address indexed badge, bytes32 salt);

    /// @notice A collection may only mint the badges of a badge contract its organiser administers.
    error NotBadgeAdmin(address badge, address caller);
    /// @notice An implementation must be a deployed contract: a clone of an empty account would accept
    /// every call (and ETH) and do nothing.
    error ImplementationWithoutCode(address implementation);

    constructor(address collectionImplementation_, address badgeImplementation_) {
        if (collectionImplementation_.code.length == 0) revert ImplementationWithoutCode(collectionImplementation_);
        if (badgeImplementation_.code.length == 0) revert ImplementationWithoutCode(badgeImplementation_);
        collectionImplementation = collectionImplementation_;
        badgeImplementation = badgeImplementation_;
    }

    /// @notice Creates an attendance badge administered by the caller.
    function createBadge(string calldata name, string calldata symbol, string calldata baseURI, bytes32 salt)
        external
        returns (address badge)
    {
        badge = Clones.cloneDeterministic(badgeImplementation, _salt(msg.sender, salt));
        AttendanceBadge(badge).initialize(msg.sender, address(this), name, symbol, baseURI);
        emit BadgeCreated(badge, msg.sender, salt);
    }

    /// @notice Creates a ticket collection organised by the caller and registers it with its badge.
    function createCollection(
        ITicketCollection.EventConfig calldata config,
        ITicketCollection.TierConfig[] calldata tiers,
        bytes32 salt
    ) external returns (address collection) {
        if (config.badge != address(0) && !IAccessControl(config.badge).hasRole(0x00, msg.sender)) {
            revert NotBadgeAdmin(config.badge, msg.sender);
        }
        collection = Clones.cloneDeterministic(collectionImplementation, _salt(msg.sender, salt));
        TicketCollection(collection).initialize(msg.sender, config, tiers);
        if (config.badge != address(0)) IAttendanceBadge(config.badge).registerIssuer(collection);
        emit CollectionCreated(collection, msg.sender, config.badge, salt);
    }

    /// @notice Where `organiser`'s collection with `salt` is (or will be).
    function predictCollection(address organiser, bytes32 salt) external view returns (address) {
        return Clones.predictDeterministicAddress(collectionImplementation, _salt(organiser, salt));
    }

    /// @notice Where `organiser`'s badge with `salt` is (or will be).
    function predictBadge(address organiser, bytes32 salt) external view returns (address) {
        return Clones.predictDeterministicAddress(badgeImplementation, _salt(organiser, salt));
    }

    function _salt(address organiser, bytes32 salt) private pure returns (bytes32) {
        return keccak256(abi.encode(organiser, salt));
    }
}
