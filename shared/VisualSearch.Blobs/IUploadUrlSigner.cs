using Azure.Storage.Blobs;
using Azure.Storage.Sas;

namespace VisualSearch.Blobs;

/// <summary>
/// Signs the URL a client PUTs one image to: a SAS for one blob, Create and Write only. On Azure the key is a
/// user delegation key obtained with the managed identity (<see cref="UserDelegationUploadSigner"/>); against
/// Azurite, which issues no user delegation keys over plain HTTP, the development account key
/// (<see cref="AccountKeyUploadSigner"/>). The hosts pick one at composition (<see cref="BlobUploadExtensions.AddBlobUploads"/>).
/// </summary>
public interface IUploadUrlSigner
{
    /// <summary>A URL that lets its holder create or overwrite <paramref name="blob"/>, and nothing else, from <paramref name="startsOn"/> to <paramref name="expiresOn"/>.</summary>
    Task<Uri> SignAsync(BlobClient blob, DateTimeOffset startsOn, DateTimeOffset expiresOn, CancellationToken cancellationToken = default);
}

/// <summary>The SAS both signers sign: this one blob, Create | Write, the given window and protocol.</summary>
public static class UploadSas
{
    public const BlobSasPermissions Permissions = BlobSasPermissions.Create | BlobSasPermissions.Write;

    public static BlobSasBuilder Builder(BlobClient blob, DateTimeOffset startsOn, DateTimeOffset expiresOn, SasProtocol protocol)
    {
        ArgumentNullException.ThrowIfNull(blob);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(expiresOn, startsOn);
        var builder = new BlobSasBuilder(Permissions, expiresOn)
        {
            BlobContainerName = blob.BlobContainerName,
            BlobName = blob.Name,
            Resource = "b",
            StartsOn = startsOn,
            Protocol = protocol,
        };
        return builder;
    }
}
