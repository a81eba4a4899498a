// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title A ticket collection as its callers see it: types, functions, events, and the errors shared by
/// its modules.
/// @dev Every error names the rule that was broken and carries the values that broke it. Errors raised by
/// one module only are declared beside that module (OpenZeppelin style): {TicketBase} (set-up), {PrimarySale},
/// {ResaleMarket}, {Payments}, {Refunds}. The role and access functions come from OpenZeppelin's
/// IAccessControl, the token functions from ERC-721 and ERC-2981, and `nonces` from OpenZeppelin's Nonces.
interface ITicketCollection {
    /// @notice What an organiser sets once per event.
    struct EventConfig {
        string name;
        string symbol;
        string baseURI;
        uint64 startTime; // cancellation is possible only before, and refunds stay locked until then
        uint64 transferLockTime; // nothing moves from this moment on
        uint16 resaleCapBps; // resale price cap against FACE VALUE, in basis points (>= 10000)
        uint96 royaltyBps; // ERC-2981 royalty on resales, in basis points
        address royaltyReceiver; // zero: the organiser
        bool giftsAllowed; // may holders move their own tickets for free?
        address badge; // attendance badge minted at check-in (zero: none)
    }

    /// @notice What an organiser sets per tier.
    struct TierConfig {
        string name;
        uint96 faceValue; // wei
        uint32 supply;
        uint32 maxPerWallet; // primary purchases per wallet; 0 means no cap
        uint64 saleStart;
        uint64 saleEnd;
    }

    /// @notice A tier as stored, with its sales and presale rule.
    struct Tier {
        uint96 faceValue;
        uint32 supply;
        uint32 minted;
        uint32 maxPerWallet;
        uint64 saleStart;
        uint64 saleEnd;
        uint64 presaleEnd; // until then only eligible buyers may buy
        uint32 presaleMinEvents; // badges needed, of presaleEvents
        bytes32 presaleRoot; // Merkle root of eligible addresses (leaves hashed twice)
        string name;
        uint64[] presaleEvents; // badge event ids that count
    }

    /// @notice One ticket, as a reader sees it.
    struct TicketInfo {
        address owner;
        uint16 tierId;
        uint96 faceValue;
        bool used;
        bool paidOnChain; // bought through `buy`: its face value is refundable on chain
        address listedBy; // zero when not listed
        uint96 listedPrice;
    }

    // ---- events ----

    /// @notice Tier `tierId` was added.
    event TierAdded(uint256 indexed tierId, string name, uint96 faceValue, uint32 supply);
    /// @notice Tier `tierId` was changed (read it again with {tier}).
    event TierUpdated(uint256 indexed tierId);
    /// @notice The presale rule of tier `tierId` was set: until `endsAt`, buyers need badges of `minEvents` of
    /// `eventIds` or a proof against `merkleRoot`.
    event PresaleSet(uint256 indexed tierId, uint64 endsAt, uint32 minEvents, uint64[] eventIds, bytes32 merkleRoot);
    /// @notice `buyer` bought `quantity` tickets of `tierId` (ids from `firstTokenId`), paying `paid` wei.
    event TicketsPurchased(
        address indexed buyer, uint256 indexed tierId, uint256 firstTokenId, uint256 quantity, uint256 paid
    );
    /// @notice The organiser minted `quantity` tickets of `tierId` (ids from `firstTokenId`) without payment.
    event TicketsMinted(uint256 indexed tierId, uint256 firstTokenId, uint256 quantity);
    /// @notice `seller` listed `tokenId` for resale at `price` wei.
    event Listed(uint256 indexed tokenId, address indexed seller, uint256 price);
    /// @notice The listing of `tokenId` ended without a sale (withdrawn, or the ticket moved or was burned).
    event ListingCancelled(uint256 indexed tokenId);
    /// @notice `buyer` bought `tokenId` from `seller` at `price` wei, of which `royalty` went to the royalty receiver.
    event ResaleBought(
        uint256 indexed tokenId, address indexed seller, address indexed buyer, uint256 price, uint256 royalty
    );
    /// @notice The gateway moved `tokenId` from `from` to `to` on the holder's signature, for `price` wei paid off
    /// chain (0: a gift).
    event GatewayTransferred(uint256 indexed tokenId, address indexed from, address indexed to, uint256 price);
    /// @notice `tokenId`, held by `holder`, was checked in.
    event CheckedIn(uint256 indexed tokenId, address indexed holder);
    /// @notice `tokenId` was left out of a check-in batch: `reason` is SKIP_NOT_FOUND (1) or SKIP_ALREADY_USED (2).
    event CheckInSkipped(uint256 indexed tokenId, uint8 reason);
    /// @notice The organiser cancelled the event at `at` (unix seconds): refunds are open.
    event EventCancelled(uint256 at);
    /// @notice `tokenId` was burned and its face value `amount` refunded to `holder` (paid or credited).
    event Refunded(uint256 indexed tokenId, address indexed holder, uint256 amount);
    /// @notice A payment of `amount` wei to `account` could not be pushed; it waits for {withdrawCredit}.
    event PaymentCredited(address indexed account, uint256 amount);
    /// @notice `account` withdrew its credit of `amount` wei.
    event CreditWithdrawn(address indexed account, uint256 amount);
    /// @notice The organiser withdrew `amount` wei of proceeds to `to`.
    event ProceedsWithdrawn(address indexed to, uint256 amount);

    // ---- errors shared by the modules ----

    /// @notice The tier does not exist.
    error TierDoesNotExist(uint256 tierId);
    /// @notice The ticket does not exist (never minted, or refunded).
    error TicketDoesNotExist(uint256 tokenId);
    /// @notice The caller does not hold this ticket.
    error NotTicketOwner(uint256 tokenId, address caller);
    /// @notice The ticket is checked in: it never moves or sells again.
    error TicketAlreadyUsed(uint256 tokenId);
    /// @notice Less than the price was sent.
    error InsufficientPayment(uint256 required, uint256 sent);
    /// @notice Tickets move only through the resale market, the gateway, or as gifts the collection allows.
    error TransferNotAllowed(uint256 tokenId, address caller);
    /// @notice This collection does not allow gifts: nothing moves for free.
    error GiftsNotAllowed(uint256 tokenId);
    /// @notice The transfer lock time has passed: tickets no longer move.
    error TransfersLocked(uint256 tokenId, uint64 transferLockTime);
    /// @notice Tickets cannot be approved to third parties.
    error ApprovalsDisabled();
    /// @notice ETH sent with a gift would be stranded: send none.
    error UnexpectedPayment(uint256 value);
    /// @notice The event is cancelled: nothing is sold, minted, moved or checked in any more.
    error EventIsCancelled();

    // ---- set-up ----

    /// @notice Sets up a clone for `organiser`, who receives the admin, minter and gate roles.
    function initialize(address organiser, EventConfig calldata config, TierConfig[] calldata tiers) external;

    // ---- event and tickets (TicketBase) ----

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
        );
    /// @notice Everything about one ticket: owner, tier, face value, used, listing.
    function ticket(uint256 tokenId) external view returns (TicketInfo memory info);
    /// @notice Sets the prefix of every token URI (wallets are told to read all metadata again).
    function setBaseURI(string calldata baseURI) external;
    /// @notice Stops purchases and transfers until {unpause}.
    function pause() external;
    /// @notice Resumes purchases and transfers.
    function unpause() external;
    /// @notice Whether the collection is paused.
    function paused() external view returns (bool);

    // ---- tiers and primary sale (PrimarySale) ----

    /// @notice Adds a tier; returns its id.
    function addTier(TierConfig calldata config) external returns (uint256 tierId);
    /// @notice Changes a tier (face value frozen once minted; supply never below minted).
    function updateTier(uint256 tierId, TierConfig calldata config) external;
    /// @notice Sets (or, with `endsAt` in the past, closes) a tier's presale rule.
    function setPresale(uint256 tierId, uint64 endsAt, uint32 minEvents, uint64[] calldata eventIds, bytes32 merkleRoot)
        external;
    /// @notice Buys `quantity` tickets of `tierId` at face value; any excess payment is returned.
    function buy(uint256 tierId, uint256 quantity) external payable returns (uint256 firstTokenId);
    /// @notice Like {buy}, for a presale buyer who proves membership of the tier's Merkle snapshot.
    function buyWithProof(uint256 tierId, uint256 quantity, bytes32[] calldata proof)
        external
        payable
        returns (uint256 firstTokenId);
    /// @notice Mints one free ticket of `tierId` to each recipient; recipient i receives firstTokenId + i.
    function mintBatch(uint256 tierId, address[] calldata recipients) external returns (uint256 firstTokenId);
    /// @notice Whether `buyer` passes the presale rule of `tierId` by badges alone.
    function presaleEligible(uint256 tierId, address buyer) external view returns (bool);
    /// @notice Number of tiers; tier ids run from 0 to tierCount() - 1.
    function tierCount() external view returns (uint256);
    /// @notice A tier with its sales count and presale rule.
    function tier(uint256 tierId) external view returns (Tier memory);
    /// @notice Tickets minted so far; token ids run from 1 to totalMinted().
    function totalMinted() external view returns (uint256);
    /// @notice Primary purchases of `wallet` in `tierId`.
    function boughtBy(uint256 tierId, address wallet) external view returns (uint256);

    // ---- resale and gateway transfers (ResaleMarket) ----

    /// @notice Lists your ticket for resale at `price` (at most {resaleCapOf}).
    function list(uint256 tokenId, uint256 price) external;
    /// @notice Withdraws your listing of `tokenId`.
    function cancelListing(uint256 tokenId) external;
    /// @notice Buys a listed ticket at its listed price, if that is at most `maxPrice`.
    function buyResale(uint256 tokenId, uint256 maxPrice) external payable;
    /// @notice Moves `tokenId` to `to` on the holder's EIP-712 signature, for `price` paid off chain.
    function gatewayTransfer(uint256 tokenId, address to, uint256 price, uint256 deadline, bytes calldata signature)
        external;
    /// @notice The highest price `tokenId` may change hands for: face value x resale cap.
    function resaleCapOf(uint256 tokenId) external view returns (uint256);
    /// @notice The EIP-712 domain separator of this collection.
    function domainSeparator() external view returns (bytes32);

    // ---- check-in (CheckIn) ----

    /// @notice Marks each ticket used and mints its holder's badge; skips tickets used or gone.
    function checkIn(uint256[] calldata tokenIds) external returns (uint256 admitted);
    /// @notice Whether `tokenId` has been checked in.
    function isUsed(uint256 tokenId) external view returns (bool);

    // ---- money (Payments, Refunds) ----

    /// @notice Cancels the event (only before it starts): sales and transfers stop, refunds open.
    function cancelEvent() external;
    /// @notice Burns your tickets of a cancelled event and pays you their face value.
    function claimRefund(uint256[] calldata tokenIds) external returns (uint256 total);
    /// @notice Refunds tickets of a cancelled event to their holders (organiser push); skips what is done.
    function refundBatch(uint256[] calldata tokenIds) external returns (uint256 refunded);
    /// @notice Pays out what was credited to you.
    function withdrawCredit() external;
    /// @notice Sends `amount` of the organiser's proceeds to `to`.
    function withdrawProceeds(address payable to, uint256 amount) external;
    /// @notice What the organiser may withdraw now.
    function withdrawableProceeds() external view returns (uint256);
    /// @notice What the contract owes: credits, plus the refund reserve while refunds are possible.
    function owed() external view returns (uint256);
    /// @notice The face value of tickets paid on chain and not refunded.
    function refundReserve() external view returns (uint256);
    /// @notice What `account` can collect with {withdrawCredit}.
    function creditOf(address account) external view returns (uint256);
}
