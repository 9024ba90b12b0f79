namespace VisualSearch.Imaging;

/// <summary>Which pixels of an image a view takes (query-side views, issue 14: a search by image may embed several).</summary>
public enum ImageViewKind
{
    /// <summary>Exactly what the encoder takes (<see cref="ImageInput"/>): the centre crop, or the whole image for a whole-image encoder.</summary>
    Input,

    /// <summary>The <see cref="Input"/> view mirrored left to right.</summary>
    Mirror,

    /// <summary>The whole image scaled to Size x Size, its aspect ratio not kept (nothing cropped).</summary>
    Squash,

    /// <summary>The centre square of <see cref="ImageView.Zoom"/> times the shorter side, scaled to Size x Size (closer than the centre crop).</summary>
    Zoom,
}

/// <summary>A view of an image: its kind and, for <see cref="ImageViewKind.Zoom"/>, the share of the shorter side its square takes.</summary>
public readonly record struct ImageView(ImageViewKind Kind, double Zoom = ImageView.DefaultZoom)
{
    /// <summary>The usual evaluation crop: 224 of 256.</summary>
    public const double DefaultZoom = 0.875;

    /// <summary>The smallest <see cref="Zoom"/> allowed (a quarter of the image's area).</summary>
    public const double MinZoom = 0.5;

    public static ImageView Input { get; } = new(ImageViewKind.Input);

    /// <summary>A short stable name (<c>input</c>, <c>mirror</c>, <c>squash</c>, <c>zoom0.875</c>): part of evaluation cache keys.</summary>
    public string Name => Kind switch
    {
        ImageViewKind.Zoom => "zoom" + Zoom.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture),
        _ => Kind.ToString().ToLowerInvariant(),
    };

    /// <summary>Throws unless <see cref="Zoom"/> is usable (from <see cref="MinZoom"/> to 1) for a zoom view.</summary>
    public void Validate()
    {
        if (!Enum.IsDefined(Kind)) throw new ArgumentOutOfRangeException(nameof(Kind), Kind, "Unknown view kind.");
        if (Kind == ImageViewKind.Zoom && !(Zoom >= MinZoom && Zoom <= 1))
            throw new ArgumentOutOfRangeException(nameof(Zoom), Zoom, $"A zoom view takes {MinZoom} to 1 of the shorter side.");
    }

    /// <summary>
    /// The geometry of this view of an upright <paramref name="width"/> x <paramref name="height"/> image for
    /// <paramref name="input"/>: the output size, the scale on each axis, and the offset cropped off after scaling.
    /// (<see cref="ImageViewKind.Mirror"/> has the geometry of <see cref="ImageViewKind.Input"/>; the mirroring follows.)
    /// </summary>
    public ViewGeometry Geometry(ImageInput input, float width, float height)
    {
        Validate();
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1f);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1f);
        var size = input.Size;
        switch (Kind)
        {
            case ImageViewKind.Squash:
                return new ViewGeometry(size, size, size / width, size / height, 0f, 0f);
            case ImageViewKind.Zoom:
            {
                var scale = size / (float)(Zoom * Math.Min(width, height));
                return new ViewGeometry(size, size, scale, scale, (width * scale - size) / 2f, (height * scale - size) / 2f);
            }

            default:
            {
                var (outW, outH) = input.ScaledSize((int)width, (int)height);
                if (input.WholeImage) return new ViewGeometry(outW, outH, outW / width, outH / height, 0f, 0f);
                var scale = size / Math.Min(width, height);
                return new ViewGeometry(size, size, scale, scale, (width * scale - size) / 2f, (height * scale - size) / 2f);
            }
        }
    }

    /// <summary>
    /// Whether a decode of <paramref name="decoded"/> pixels (of an image of <paramref name="full"/> pixels) has enough
    /// pixels for this view: the scaled image covers the view's output without upsampling.
    /// </summary>
    public bool IsCoveredBy(ImageInput input, (int Width, int Height) decoded, (int Width, int Height) full)
    {
        switch (Kind)
        {
            case ImageViewKind.Squash:
                return decoded.Width >= input.Size && decoded.Height >= input.Size;
            case ImageViewKind.Zoom:
                return Zoom * Math.Min(decoded.Width, decoded.Height) >= input.Size;
            default:
                if (!input.WholeImage) return Math.Min(decoded.Width, decoded.Height) >= input.Size;
                var (w, h) = input.ScaledSize(full.Width, full.Height);
                return decoded.Width >= w && decoded.Height >= h;
        }
    }
}

/// <summary>Where a view's pixels come from: an output of <paramref name="Width"/> x <paramref name="Height"/>, the upright image scaled by (ScaleX, ScaleY), then (CropX, CropY) cut off the top left.</summary>
public readonly record struct ViewGeometry(int Width, int Height, float ScaleX, float ScaleY, float CropX, float CropY);
