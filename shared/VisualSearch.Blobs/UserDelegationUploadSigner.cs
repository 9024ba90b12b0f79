using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Sas;
using Microsoft.Extensions.Logging;

namespace VisualSearch.Blobs;

/// <summary>
/// Signs upload URLs with a user delegation key (Azure): the key is obtained with the app's Entra ID identity
/// (Storage Blob Delegator, or Data Contributor/Owner, on the account) and cached until shortly before it
/// expires; no account key is involved. HTTPS only.
/// </summary>
public sealed partial class UserDelegationUploadSigner(BlobServiceClient service, TimeProvider time, ILogger<UserDelegationUploadSigner> logger)
    : IUploadUrlSigner, IDisposable
{
    /// <summary>How long a requested key is valid (a key may live up to 7 days; a SAS cannot outlive its key).</summary>
    public static readonly TimeSpan KeyLifetime = TimeSpan.FromHours(2);

    /// <summary>A cached key is replaced when it would expire within this margin after the SAS does.</summary>
    public static readonly TimeSpan RenewalMargin = TimeSpan.FromMinutes(5);

    private readonly SemaphoreSlim _gate = new(1, 1);
    private UserDelegationKey? _key;

    public async Task<Uri> SignAsync(BlobClient blob, DateTimeOffset startsOn, DateTimeOffset expiresOn, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(blob);
        var key = await GetKeyAsync(expiresOn, cancellationToken).ConfigureAwait(false);
        var sas = UploadSas.Builder(blob, startsOn, expiresOn, SasProtocol.Https).ToSasQueryParameters(key, service.AccountName);
        return new BlobUriBuilder(blob.Uri) { Sas = sas }.ToUri();
    }

    public void Dispose() => _gate.Dispose();

    private async Task<UserDelegationKey> GetKeyAsync(DateTimeOffset sasExpiresOn, CancellationToken cancellationToken)
    {
        if (IsUsable(_key, sasExpiresOn)) return _key!;
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (IsUsable(_key, sasExpiresOn)) return _key!;
            var now = time.GetUtcNow();
            // Starts a little in the past: the service's clock may be behind ours.
            var options = new BlobGetUserDelegationKeyOptions(now + KeyLifetime) { StartsOn = now - TimeSpan.FromMinutes(5) };
            try
            {
                _key = (await service.GetUserDelegationKeyAsync(options, cancellationToken).ConfigureAwait(false)).Value;
            }
            catch (RequestFailedException ex)
            {
                LogKeyFailed(logger, service.AccountName, ex.Status, ex.ErrorCode ?? "", ex);
                throw;
            }

            LogKeyObtained(logger, service.AccountName, _key.SignedExpiresOn);
            return _key;
        }
        finally
        {
            _gate.Release();
        }
    }

    private static bool IsUsable(UserDelegationKey? key, DateTimeOffset sasExpiresOn) =>
        key is not null && key.SignedExpiresOn >= sasExpiresOn + RenewalMargin;

    [LoggerMessage(321, LogLevel.Information, "Obtained a user delegation key for account {Account}, valid until {ExpiresOn:O}")]
    private static partial void LogKeyObtained(ILogger logger, string account, DateTimeOffset expiresOn);

    [LoggerMessage(322, LogLevel.Error, "Could not obtain a user delegation key for account {Account} ({Status} {ErrorCode}); the identity needs Storage Blob Delegator (or Storage Blob Data Contributor/Owner) on the account")]
    private static partial void LogKeyFailed(ILogger logger, string account, int status, string errorCode, Exception exception);
}
