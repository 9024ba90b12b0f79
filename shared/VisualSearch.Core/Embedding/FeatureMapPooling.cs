using VisualSearch.Indexing;

namespace VisualSearch.Embedding;

/// <summary>How a feature map (or a region of it) becomes one value per channel.</summary>
public enum PoolingMethod
{
    /// <summary>The mean of each channel: what the network's own global pool computes.</summary>
    Average,

    /// <summary>Generalised mean (GeM): (mean of x^p)^(1/p) per channel, between the average (p = 1) and the maximum (p → ∞).</summary>
    GeM,
}

/// <summary>A rectangle of feature-map cells (origin top-left).</summary>
public readonly record struct MapRect(int X, int Y, int Width, int Height);

/// <summary>
/// Pure functions over a feature map laid out as the network gives it: C planes of H x W floats (one image).
/// </summary>
public static class FeatureMapPooling
{
    /// <summary>Activations below this are taken as it before GeM's power (the map is after a ReLU; this keeps the root finite).</summary>
    public const float GemEpsilon = 1e-6f;

    /// <summary>Pools the cells of <paramref name="rect"/> of every channel into <paramref name="destination"/> (C values).</summary>
    /// <param name="p">GeM's exponent (ignored by the average).</param>
    public static void Pool(ReadOnlySpan<float> map, int channels, int height, int width, MapRect rect, PoolingMethod method, float p, Span<float> destination)
    {
        Validate(map, channels, height, width, method, p, destination);
        if (rect.X < 0 || rect.Y < 0 || rect.Width < 1 || rect.Height < 1 || rect.X + rect.Width > width || rect.Y + rect.Height > height)
            throw new ArgumentOutOfRangeException(nameof(rect), rect, $"The rectangle is not within the {width} x {height} map.");
        PoolCore(map, channels, height, width, rect, default, method, p, destination);
    }

    /// <summary>
    /// Pools the cells of the whole map whose <paramref name="keep"/> entry (row-major, height x width) is true into
    /// <paramref name="destination"/>; the whole map when none is.
    /// </summary>
    public static void PoolCells(ReadOnlySpan<float> map, int channels, int height, int width, ReadOnlySpan<bool> keep, PoolingMethod method, float p, Span<float> destination)
    {
        Validate(map, channels, height, width, method, p, destination);
        if (keep.Length != height * width) throw new ArgumentException($"The mask has {keep.Length} cells; the map {height} x {width}.", nameof(keep));
        PoolCore(map, channels, height, width, new MapRect(0, 0, width, height), keep.Contains(true) ? keep : default, method, p, destination);
    }

    /// <summary>
    /// Pools the cells of <paramref name="rect"/> whose <paramref name="keep"/> entry (row-major over the whole map) is true;
    /// all of the rectangle's cells when none of them is.
    /// </summary>
    public static void PoolCells(ReadOnlySpan<float> map, int channels, int height, int width, MapRect rect, ReadOnlySpan<bool> keep, PoolingMethod method, float p, Span<float> destination)
    {
        Validate(map, channels, height, width, method, p, destination);
        if (keep.Length != height * width) throw new ArgumentException($"The mask has {keep.Length} cells; the map {height} x {width}.", nameof(keep));
        if (rect.X < 0 || rect.Y < 0 || rect.Width < 1 || rect.Height < 1 || rect.X + rect.Width > width || rect.Y + rect.Height > height)
            throw new ArgumentOutOfRangeException(nameof(rect), rect, $"The rectangle is not within the {width} x {height} map.");
        var any = false;
        for (var y = rect.Y; y < rect.Y + rect.Height && !any; y++) any = keep.Slice(y * width + rect.X, rect.Width).Contains(true);
        PoolCore(map, channels, height, width, rect, any ? keep : default, method, p, destination);
    }

    private static void Validate(ReadOnlySpan<float> map, int channels, int height, int width, PoolingMethod method, float p, Span<float> destination)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(channels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        if (map.Length != channels * height * width) throw new ArgumentException($"The map has {map.Length} values; {channels} x {height} x {width} expected.", nameof(map));
        if (destination.Length != channels) throw new ArgumentException($"The destination takes {destination.Length} values; the map has {channels} channels.", nameof(destination));
        if (method == PoolingMethod.GeM) ArgumentOutOfRangeException.ThrowIfLessThan(p, 1f);
    }

    /// <summary>The rectangle's cells, only those <paramref name="keep"/> marks when it is not empty.</summary>
    private static void PoolCore(ReadOnlySpan<float> map, int channels, int height, int width, MapRect rect, ReadOnlySpan<bool> keep, PoolingMethod method, float p, Span<float> destination)
    {
        var plane = height * width;
        var cells = 0;
        for (var y = rect.Y; y < rect.Y + rect.Height; y++)
            for (var x = rect.X; x < rect.X + rect.Width; x++)
                if (keep.IsEmpty || keep[y * width + x]) cells++;

        for (var c = 0; c < channels; c++)
        {
            var channel = map.Slice(c * plane, plane);
            double sum = 0;
            for (var y = rect.Y; y < rect.Y + rect.Height; y++)
            {
                for (var x = rect.X; x < rect.X + rect.Width; x++)
                {
                    if (!keep.IsEmpty && !keep[y * width + x]) continue;
                    var v = channel[y * width + x];
                    sum += method == PoolingMethod.Average ? v : Math.Pow(Math.Max(v, GemEpsilon), p);
                }
            }

            var mean = sum / cells;
            destination[c] = method == PoolingMethod.Average ? (float)mean : (float)Math.Pow(mean, 1.0 / p);
        }
    }

    /// <summary>
    /// The cells of a <paramref name="mapWidth"/> x <paramref name="mapHeight"/> map (row-major) whose block of the image
    /// (<paramref name="rgb"/>, the network's input, which the map spans) is not flat: true where some channel varies
    /// by more than <paramref name="tolerance"/> within the block. A flat block (a white margin, the white corners of a
    /// circular detail, the black corners of a rotated canvas) shows nothing of the picture.
    /// </summary>
    public static bool[] NonFlatCells(ReadOnlySpan<byte> rgb, int pixelWidth, int pixelHeight, int mapWidth, int mapHeight, int tolerance)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(pixelWidth, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(pixelHeight, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(mapWidth, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(mapHeight, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(tolerance);
        if (rgb.Length != pixelWidth * pixelHeight * 3) throw new ArgumentException($"Expected {pixelWidth * pixelHeight * 3} RGB bytes.", nameof(rgb));
        var keep = new bool[mapWidth * mapHeight];
        Span<int> low = stackalloc int[3];
        Span<int> high = stackalloc int[3];
        for (var cy = 0; cy < mapHeight; cy++)
        {
            int y0 = cy * pixelHeight / mapHeight, y1 = Math.Max(y0 + 1, (cy + 1) * pixelHeight / mapHeight);
            for (var cx = 0; cx < mapWidth; cx++)
            {
                int x0 = cx * pixelWidth / mapWidth, x1 = Math.Max(x0 + 1, (cx + 1) * pixelWidth / mapWidth);
                low.Fill(255);
                high.Fill(0);
                for (var y = y0; y < y1 && y < pixelHeight; y++)
                {
                    for (var x = x0; x < x1 && x < pixelWidth; x++)
                    {
                        var i = (y * pixelWidth + x) * 3;
                        for (var c = 0; c < 3; c++)
                        {
                            low[c] = Math.Min(low[c], rgb[i + c]);
                            high[c] = Math.Max(high[c], rgb[i + c]);
                        }
                    }
                }

                keep[cy * mapWidth + cx] = high[0] - low[0] > tolerance || high[1] - low[1] > tolerance || high[2] - low[2] > tolerance;
            }
        }

        return keep;
    }

    /// <summary>The whole map pooled.</summary>
    public static float[] PoolAll(ReadOnlySpan<float> map, int channels, int height, int width, PoolingMethod method, float p)
    {
        var result = new float[channels];
        Pool(map, channels, height, width, new MapRect(0, 0, width, height), method, p, result);
        return result;
    }
}

/// <summary>
/// R-MAC-style regions of a feature map (Tolias et al. 2016): at each scale, square regions of one side slid
/// over the map with about <see cref="DefaultOverlap"/> overlap, the first and last touching the borders. The
/// sides go down geometrically from half the shorter side to <see cref="SmallestFraction"/> of it (at least one cell).
/// </summary>
public static class RegionGrid
{
    /// <summary>The side of the smallest regions, as a fraction of the map's shorter side (issue 14: "about a fifth").</summary>
    public const double SmallestFraction = 0.2;

    /// <summary>The side of the largest regions, as a fraction of the map's shorter side (the whole image is the item's own vector).</summary>
    public const double LargestFraction = 0.5;

    /// <summary>R-MAC's overlap between neighbouring regions.</summary>
    public const double DefaultOverlap = 0.4;

    /// <summary>The region sides in cells of a map whose shorter side is <paramref name="shorterSide"/>, largest first, distinct.</summary>
    public static IReadOnlyList<int> Sides(int shorterSide, int scales)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(shorterSide, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(scales, 1);
        var sides = new List<int>();
        for (var l = 0; l < scales; l++)
        {
            var fraction = scales == 1 ? LargestFraction : LargestFraction * Math.Pow(SmallestFraction / LargestFraction, (double)l / (scales - 1));
            var side = Math.Clamp((int)Math.Round(fraction * shorterSide, MidpointRounding.AwayFromZero), 1, shorterSide);
            if (!sides.Contains(side)) sides.Add(side);
        }

        return sides;
    }

    /// <summary>The regions of a <paramref name="mapWidth"/> x <paramref name="mapHeight"/> map, by scale (largest first), then row, then column.</summary>
    public static IReadOnlyList<MapRect> Compute(int mapWidth, int mapHeight, int scales, double overlap = DefaultOverlap)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(mapWidth, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(mapHeight, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(overlap, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(overlap, 1);
        var regions = new List<MapRect>();
        foreach (var side in Sides(Math.Min(mapWidth, mapHeight), scales))
        {
            var xs = Positions(mapWidth, side, overlap);
            var ys = Positions(mapHeight, side, overlap);
            foreach (var y in ys)
                foreach (var x in xs) regions.Add(new MapRect(x, y, side, side));
        }

        return regions;
    }

    /// <summary>
    /// The box in the original image's pixels (upright) that a region of the map covers: the map spans the whole
    /// image, so cells map proportionally, outward to whole pixels.
    /// </summary>
    public static RegionBox ToImageBox(MapRect region, int mapWidth, int mapHeight, int imageWidth, int imageHeight)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(mapWidth, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(mapHeight, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(imageWidth, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(imageHeight, 1);
        var x0 = (int)Math.Floor((double)region.X * imageWidth / mapWidth);
        var y0 = (int)Math.Floor((double)region.Y * imageHeight / mapHeight);
        var x1 = Math.Min(imageWidth, (int)Math.Ceiling((double)(region.X + region.Width) * imageWidth / mapWidth));
        var y1 = Math.Min(imageHeight, (int)Math.Ceiling((double)(region.Y + region.Height) * imageHeight / mapHeight));
        return new RegionBox(x0, y0, Math.Max(1, x1 - x0), Math.Max(1, y1 - y0));
    }

    /// <summary>Start cells along one axis: evenly spread from 0 to length - side, steps of at most side x (1 - overlap).</summary>
    private static List<int> Positions(int length, int side, double overlap)
    {
        if (side >= length) return [0];
        var span = length - side;
        var steps = (int)Math.Ceiling(span / (side * (1 - overlap)) - 1e-9);
        var positions = new List<int>();
        for (var i = 0; i <= steps; i++)
        {
            var position = (int)Math.Round((double)i * span / steps, MidpointRounding.AwayFromZero);
            if (positions.Count == 0 || positions[^1] != position) positions.Add(position);
        }

        return positions;
    }
}

/// <summary>
/// The detail regions of issue 14 (<see cref="EncoderOptions.DetailRegionSide"/>): square windows of given sides (in cells)
/// slid over a map of the whole image at a larger size, each at half its side, the first and last touching the borders,
/// so that a detail of 3-10% of the image, shown alone as a query, meets a window of about its own size and place. When
/// the windows would be more than the limit, each side's share of it is kept by sliding its windows further apart.
/// </summary>
public static class DetailRegionGrid
{
    /// <summary>
    /// The windows of a <paramref name="mapWidth"/> x <paramref name="mapHeight"/> map, by side (in the order given, each
    /// clamped to the map's shorter side, duplicates once), then row, then column; at most <paramref name="limit"/> in all.
    /// </summary>
    public static IReadOnlyList<MapRect> Compute(int mapWidth, int mapHeight, IReadOnlyList<int> sides, int limit)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(mapWidth, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(mapHeight, 1);
        ArgumentNullException.ThrowIfNull(sides);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        var distinct = sides.Select(s => s >= 1 ? Math.Min(s, Math.Min(mapWidth, mapHeight)) : throw new ArgumentOutOfRangeException(nameof(sides), s, "A window has at least one cell."))
            .Distinct().ToList();
        var regions = new List<MapRect>();
        for (var i = 0; i < distinct.Count; i++)
        {
            if (regions.Count >= limit) break;
            // Each side gets an equal share of what the sides before it left.
            var budget = Math.Max(1, (limit - regions.Count) / (distinct.Count - i));
            var side = distinct[i];
            var step = Math.Max(1.0, side / 2.0);
            List<int> xs, ys;
            while (true)
            {
                xs = Positions(mapWidth, side, step);
                ys = Positions(mapHeight, side, step);
                if (xs.Count * ys.Count <= budget) break;
                step *= 1.1;
                if (step > 2 * Math.Max(mapWidth, mapHeight))
                {
                    // A budget of fewer windows than the corners: one, in the middle.
                    (xs, ys) = ([(mapWidth - side) / 2], [(mapHeight - side) / 2]);
                    break;
                }
            }

            foreach (var y in ys)
                foreach (var x in xs) regions.Add(new MapRect(x, y, side, side));
        }

        return regions;
    }

    /// <summary>Start cells along one axis: evenly spread from 0 to length - side, steps of at most <paramref name="step"/>.</summary>
    private static List<int> Positions(int length, int side, double step)
    {
        var span = length - side;
        if (span <= 0) return [0];
        var steps = Math.Max(1, (int)Math.Ceiling(span / step - 1e-9));
        var positions = new List<int>();
        for (var i = 0; i <= steps; i++)
        {
            var position = (int)Math.Round((double)i * span / steps, MidpointRounding.AwayFromZero);
            if (positions.Count == 0 || positions[^1] != position) positions.Add(position);
        }

        return positions;
    }
}
