# The benchmark's photos, derived with libvips' CLI from real ones in mate-backgrounds (sourced by
# bench/run.sh and bench/soak.sh, which share the cache directory).
#
#   prepare_photos DIR   makes each file in DIR unless it is already there; needs log()

prepare_photos() {
  local dir=$1 mate=/usr/share/backgrounds/mate
  mkdir -p "$dir"
  make_photo() {  # name, vips thumbnail arguments after the input...
    local name=$1 input=$2
    shift 2
    [[ -s $dir/$name ]] && return
    log "preparing $name"
    vips thumbnail "$input" "$@"
  }
  # 1600x1200 JPEG of ~280 KB (Wood.jpg is 2560x1920; Q 90 without chroma subsampling gives it).
  make_photo photo_1600.jpg "$mate/nature/Wood.jpg" \
    "$dir/photo_1600.jpg[Q=90,strip,optimize_coding]" 1600 --height 1200
  # 13 MP (4800x2700, EXIF kept) from the 5640x3172 photo, baseline and progressive.
  make_photo photo_13mp_baseline.jpg "$mate/abstract/Elephants_5640x3172.jpg" \
    "$dir/photo_13mp_baseline.jpg[Q=90,optimize_coding]" 4800 --height 4800
  make_photo photo_13mp_progressive.jpg "$mate/abstract/Elephants_5640x3172.jpg" \
    "$dir/photo_13mp_progressive.jpg[Q=90,optimize_coding,interlace]" 4800 --height 4800
  # 1 MP PNG (1280x800) of a photo.
  make_photo photo_1mp.png "$mate/nature/Garden.jpg" "$dir/photo_1mp.png" 1280 --height 1280
}
