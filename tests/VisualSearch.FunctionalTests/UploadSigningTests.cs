using Azure;
using Azure.Core;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Microsoft.Extensions.Logging.Abstractions;
using VisualSearch.Blobs;
using VisualSearch.Imaging;
using VisualSearch.Ingestion;

namespace VisualSearch.FunctionalTests;

/// <summary>The pieces of client uploads that need no host: the user-delegation signer, metadata encoding, rejection tags.</summary>
public sealed class UploadSigningTests
{
    private static readonly DateTimeOffset T0 = new(2026, 5, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task UserDelegationSigner_SignsOneBlob_CreateWriteHttpsOnly_WithTheDelegationKey()
    {
        var time = new ManualTime(T0);
        var service = new FakeDelegationService();
        using var signer = new UserDelegationUploadSigner(service, time, NullLogger<UserDelegationUploadSigner>.Instance);
        var blob = service.GetBlobContainerClient("images").GetBlobClient("2026/05/01/0123456789abcdef0123456789abcdef.jpg");

        var url = await signer.SignAsync(blob, T0 - TimeSpan.FromMinutes(1), T0 + TimeSpan.FromMinutes(5));

        Assert.Equal("https://account.blob.core.windows.net/images/2026/05/01/0123456789abcdef0123456789abcdef.jpg", url.GetLeftPart(UriPartial.Path));
        var sas = System.Web.HttpUtility.ParseQueryString(url.Query);
        Assert.Equal("cw", sas["sp"]);
        Assert.Equal("b", sas["sr"]);
        Assert.Equal("https", sas["spr"]);
        Assert.Equal("2026-05-01T11:59:00Z", sas["st"]);
        Assert.Equal("2026-05-01T12:05:00Z", sas["se"]);
        Assert.Equal(FakeDelegationService.ObjectId, sas["skoid"]); // signed with the identity's delegation key
        Assert.Equal(FakeDelegationService.TenantId, sas["sktid"]);
        Assert.False(string.IsNullOrEmpty(sas["sig"]));

        var request = Assert.Single(service.Requests);
        Assert.True(request.ExpiresOn >= T0 + UserDelegationUploadSigner.KeyLifetime);
        Assert.True(request.StartsOn < T0);
    }

    [Fact]
    public async Task UserDelegationSigner_ReusesItsKeyUntilShortlyBeforeItExpires()
    {
        var time = new ManualTime(T0);
        var service = new FakeDelegationService();
        using var signer = new UserDelegationUploadSigner(service, time, NullLogger<UserDelegationUploadSigner>.Instance);
        var blob = service.GetBlobContainerClient("images").GetBlobClient("a.jpg");
        var lifetime = TimeSpan.FromMinutes(5);

        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => signer.SignAsync(blob, T0, T0 + lifetime)));
        Assert.Single(service.Requests);

        // Still valid for this SAS plus the margin: the same key.
        time.Now = T0 + UserDelegationUploadSigner.KeyLifetime - lifetime - UserDelegationUploadSigner.RenewalMargin;
        await signer.SignAsync(blob, time.Now, time.Now + lifetime);
        Assert.Single(service.Requests);

        // A SAS that would outlive the key (less the margin): a new key.
        time.Now += TimeSpan.FromSeconds(1);
        await signer.SignAsync(blob, time.Now, time.Now + lifetime);
        Assert.Equal(2, service.Requests.Count);
    }

    [Fact]
    public async Task UserDelegationSigner_PassesOnAFailureToObtainAKey()
    {
        var service = new FakeDelegationService { Fail = true };
        using var signer = new UserDelegationUploadSigner(service, new ManualTime(T0), NullLogger<UserDelegationUploadSigner>.Instance);
        var blob = service.GetBlobContainerClient("images").GetBlobClient("a.jpg");
        var ex = await Assert.ThrowsAsync<RequestFailedException>(() => signer.SignAsync(blob, T0, T0 + TimeSpan.FromMinutes(5)));
        Assert.Equal(403, ex.Status);
    }

    [Theory]
    [InlineData("cats", "cats")]
    [InlineData("Holiday 2024: O'Brien (draft)", "Holiday 2024: O'Brien (draft)")]
    [InlineData("Zürich", "Z%C3%BCrich")]
    [InlineData("100%", "100%25")]
    [InlineData("東京 🐈", "%E6%9D%B1%E4%BA%AC %F0%9F%90%88")]
    public void MetadataValues_AreAsciiHeaderSafe_AndRoundTrip(string value, string encoded)
    {
        Assert.Equal(encoded, BlobMetadataValues.Encode(value));
        Assert.All(encoded, c => Assert.InRange(c, ' ', '~'));
        Assert.Equal(value, BlobMetadataValues.Decode(encoded));
    }

    [Fact]
    public void RejectionTags_HoldTheReasonForOneVersion_InTagSafeCharacters()
    {
        var result = new IngestResult("images/a.jpg", IngestOutcome.Rejected, ImageRejectionReason.TooLarge, "The image is 12,345 bytes; the limit is 4096 (Imaging:MaxBytes).");
        var version = new ETag("\"0x8DC1234567890AB\"");
        var tags = RejectionTags.For(result, version, new Dictionary<string, string> { ["project"] = "x" });

        Assert.Equal("x", tags["project"]); // other tags are kept
        Assert.Equal("TooLarge", tags[RejectionTags.Reason]);
        Assert.Equal("0x8DC1234567890AB", tags[RejectionTags.ETag]);
        Assert.Equal("The image is 12 345 bytes the limit is 4096 Imaging:MaxBytes .", tags[RejectionTags.Detail]);
        Assert.All(tags.Values, v => Assert.Matches("^[A-Za-z0-9 +\\-./:=_]{0,256}$", v));

        Assert.Equal(("TooLarge", "The image is 12 345 bytes the limit is 4096 Imaging:MaxBytes ."), RejectionTags.Read(tags, version));
        Assert.Null(RejectionTags.Read(tags, new ETag("\"0x8DCFFFFFFFFFFFF\""))); // an overwrite is judged afresh
        Assert.Null(RejectionTags.Read(new Dictionary<string, string> { ["project"] = "x" }, version));
        Assert.Equal(256, RejectionTags.Clean(new string('a', 300)).Length);
    }

    private sealed class ManualTime(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;

        public override DateTimeOffset GetUtcNow() => Now;
    }

    /// <summary>A real client for https://account.blob.core.windows.net whose Get User Delegation Key answers locally.</summary>
    private sealed class FakeDelegationService() : BlobServiceClient(new Uri("https://account.blob.core.windows.net/"), new NoCredential())
    {
        public const string ObjectId = "11111111-2222-3333-4444-555555555555";
        public const string TenantId = "66666666-7777-8888-9999-000000000000";

        private readonly List<BlobGetUserDelegationKeyOptions> _requests = [];

        public bool Fail { get; init; }

        public IReadOnlyList<BlobGetUserDelegationKeyOptions> Requests
        {
            get
            {
                lock (_requests) return _requests.ToList();
            }
        }

        public override async Task<Response<UserDelegationKey>> GetUserDelegationKeyAsync(BlobGetUserDelegationKeyOptions options, CancellationToken cancellationToken = default)
        {
            await Task.Delay(20, cancellationToken);
            lock (_requests) _requests.Add(options);
            if (Fail) throw new RequestFailedException(403, "This request is not authorized to perform this operation using this permission.", "AuthorizationPermissionMismatch", null);
            var key = BlobsModelFactory.UserDelegationKey(ObjectId, TenantId, options.StartsOn ?? T0, options.ExpiresOn, "b", "2025-11-05", Convert.ToBase64String(new byte[32]));
            return Response.FromValue(key, null!);
        }
    }

    private sealed class NoCredential : TokenCredential
    {
        public override AccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken) => throw new InvalidOperationException("No network in this test.");

        public override ValueTask<AccessToken> GetTokenAsync(TokenRequestContext requestContext, CancellationToken cancellationToken) => throw new InvalidOperationException("No network in this test.");
    }
}
