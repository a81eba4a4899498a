// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title What a ticket collection and the factory need from an attendance badge.
interface IAttendanceBadge {
    /// @notice Sets up a clone: `admin` (the organiser) may revoke and register; `registrar` may register.
    function initialize(
        address admin,
        address registrar,
        string calldata name_,
        string calldata symbol_,
        string calldata baseURI
    ) external;

    /// @notice Registers `issuer` (a ticket collection) as a new event; returns its event id.
    function registerIssuer(address issuer) external returns (uint64 eventId);

    /// @notice Mints the calling issuer's badge to each holder that has none; returns how many were minted.
    function issue(address[] calldata holders) external returns (uint256 minted);

    /// @notice How many of `eventIds` `holder` holds a (non-revoked) badge of.
    function attendedCount(address holder, uint64[] calldata eventIds) external view returns (uint256);
}
