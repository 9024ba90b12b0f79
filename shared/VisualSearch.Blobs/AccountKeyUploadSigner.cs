using Azure.Storage.Blobs;
using Azure.Storage.Sas;

namespace VisualSearch.Blobs;

/// <summary>
/// Development only: signs upload URLs with the account key of the connection string (Azurite's well-known
/// devstoreaccount1 key with UseDevelopmentStorage=true). Azurite has no user delegation keys over plain HTTP,
/// so this is the one class that differs from Azure; it also allows http, which Azurite speaks. Chosen only when
/// the host allows it and the configured client holds an account key (see <see cref="BlobUploadExtensions.AddBlobUploads"/>).
/// </summary>
public sealed class AccountKeyUploadSigner : IUploadUrlSigner
{
    public Task<Uri> SignAsync(BlobClient blob, DateTimeOffset startsOn, DateTimeOffset expiresOn, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(blob);
        cancellationToken.ThrowIfCancellationRequested();
        if (!blob.CanGenerateSasUri)
            throw new InvalidOperationException("The blob client holds no account key; use the user delegation signer.");
        return Task.FromResult(blob.GenerateSasUri(UploadSas.Builder(blob, startsOn, expiresOn, SasProtocol.HttpsAndHttp)));
    }
}
